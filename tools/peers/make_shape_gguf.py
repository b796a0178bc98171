#!/usr/bin/python3
"""Writes an F16 `llama` GGUF of one of `tern bench`'s shapes with random ternary linears,
for the peer engines (llama.cpp, bitnet.cpp) to quantize and benchmark.

Usage (GGUF_PY: the gguf-py folder of the llama.cpp checkout scripts/bench-peers.sh uses):
    GGUF_PY=/work/peers/llama.cpp/gguf-py \
        /usr/bin/python3 tools/peers/make_shape_gguf.py --shape mobilellm-125m --out m.gguf [--seed 0]

The shapes are src/bench/shapes.cpp's. Like `tern bench --shape`, every linear holds
weights in {-1, 0, +1} (half zeros) times one scale 1/sqrt(n_in), the norms are ones, the
tied embedding is normal(0, 1), and the vocabulary is three specials, the 256 byte tokens
and made-up pieces. The ternary values times the scale are exact in F16, so a ternary
quantizer (TQ1_0, TQ2_0, I2_S, TL2) reproduces them without loss. The draws are numpy's,
not tern's: same distribution and shape, not the same numbers (speed does not depend on
which ternary values a row holds).

--tl2 BITNET_DIR writes the same weights (same --seed) in bitnet.cpp's TL2 layout instead,
for a bitnet.cpp build whose kernels were generated for these shapes (BITNET_DIR's
include/kernel_config.ini; only bitnet-700m has TL2 kernels, the bitnet_b1_58-large
ones): run it with GGUF_PY=BITNET_DIR/3rdparty/llama.cpp/gguf-py (the fork's gguf-py
knows TL2 and stores each linear's scale as a trailing `_scale` tensor), and the
linears go through bitnet.cpp's own preprocess_weights_tl2. The embedding is Q8_0 there
too (gguf-py's quantizer), as llama-quantize --token-embedding-type q8_0 writes it.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.environ.get("GGUF_PY", "/work/peers/llama.cpp/gguf-py"))
import gguf  # noqa: E402  (llama.cpp's gguf-py)

# name: layers, dim, heads, kv_heads, ffn, vocab, context (src/bench/shapes.cpp)
SHAPES = {
    "mobilellm-125m": (30, 576, 9, 3, 1536, 32000, 2048),
    "mobilellm-350m": (32, 960, 15, 5, 2560, 32000, 2048),
    "bitnet-700m": (24, 1536, 16, 16, 4096, 32002, 2048),
}


def ternary(rng, rows, n_in):
    """[rows, n_in] F16 weights: -1 / +1 with probability 1/4 each, else 0, times 1/sqrt(n_in)."""
    codes = rng.integers(0, 4, size=(rows, n_in), dtype=np.int8)
    w = np.where(codes == 0, -1, np.where(codes == 2, 1, 0)).astype(np.float32)
    return (w * np.float32(1.0 / np.sqrt(n_in))).astype(np.float16)


def bitnet_tl2(bitnet_dir):
    """bitnet.cpp's transform_to_tl2 (utils/convert-hf-to-gguf-bitnet.py), which reads
    include/kernel_config.ini relative to the working directory."""
    sys.path.insert(0, os.path.join(bitnet_dir, "utils"))
    spec = importlib.util.spec_from_file_location(
        "bitnet_convert", os.path.join(bitnet_dir, "utils", "convert-hf-to-gguf-bitnet.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.chdir(bitnet_dir)
    return module.transform_to_tl2


def vocab(size):
    tokens, types = ["<unk>", "<s>", "</s>"], [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    while len(tokens) < size:
        tokens.append(f"\u2581t{len(tokens)}")
        types.append(gguf.TokenType.NORMAL)
    return tokens, [-float(i + 1) for i in range(size)], types


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tl2", metavar="BITNET_DIR", help="write the linears as bitnet.cpp TL2")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    to_tl2 = bitnet_tl2(args.tl2) if args.tl2 else None
    layers, dim, heads, kv_heads, ffn, n_vocab, ctx = SHAPES[args.shape]
    head_dim = dim // heads
    rng = np.random.default_rng(args.seed)

    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name(f"{args.shape} (random ternary weights)")
    w.add_context_length(ctx)
    w.add_embedding_length(dim)
    w.add_block_count(layers)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(39 if to_tl2 else gguf.LlamaFileType.MOSTLY_F16)  # 39: the fork's LLAMA_FTYPE_MOSTLY_TL2
    w.add_vocab_size(n_vocab)
    tokens, scores, types = vocab(n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def linear(name, rows, n_in):
        weights = ternary(rng, rows, n_in)
        if not to_tl2:
            w.add_tensor(name, weights)
            return
        data, scale = to_tl2(weights.astype(np.float32))
        w.add_tensor(name, data, raw_shape=(rows, n_in), raw_dtype=gguf.GGMLQuantizationType.TL2)
        w.add_tensor(name + "_scale", np.array([scale], dtype=np.float32), raw_dtype=gguf.GGMLQuantizationType.F32)

    ones = np.ones(dim, dtype=np.float32)
    embedding = rng.standard_normal((n_vocab, dim), dtype=np.float32).astype(np.float16)
    if to_tl2:
        q8 = gguf.quants.quantize(embedding.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor("token_embd.weight", q8, raw_shape=(n_vocab, dim), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        w.add_tensor("token_embd.weight", embedding)
    w.add_tensor("output_norm.weight", ones)
    for b in range(layers):
        p = f"blk.{b}."
        w.add_tensor(p + "attn_norm.weight", ones)
        linear(p + "attn_q.weight", heads * head_dim, dim)
        linear(p + "attn_k.weight", kv_heads * head_dim, dim)
        linear(p + "attn_v.weight", kv_heads * head_dim, dim)
        linear(p + "attn_output.weight", dim, heads * head_dim)
        w.add_tensor(p + "ffn_norm.weight", ones)
        linear(p + "ffn_gate.weight", ffn, dim)
        linear(p + "ffn_up.weight", ffn, dim)
        linear(p + "ffn_down.weight", dim, ffn)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
