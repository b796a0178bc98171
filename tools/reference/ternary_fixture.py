#!/usr/bin/python3
"""Writes tiny random checkpoints in the ternary formats real models ship in, for tests.

Usage:
    /usr/bin/python3 tools/reference/ternary_fixture.py --kind KIND --out PATH [--seed 0]
        [--break WHAT] [--tokenizer PATH.model]

Kinds (each follows the format's public definition; docs/FORMAT.md 2.6, 5.4):
  paretoq158   MobileLLM-ParetoQ, w_bits 0: LlamaForCausalLM folder, tied embeddings, every
               block linear BF16 latent `weight` plus BF16 `weight_clip_val` [out, 1] (embedding
               and norms F32);
               widths multiples of 256 (so a `--to llama` TQ2_0 export is legal)
  paretoq1     MobileLLM-ParetoQ, w_bits 1 (binary, sign(w) * alpha; some exact zeros); dim 96
  bitnet_auto  Hugging Face BitNet offline-quantized (BitNetForCausalLM as 2B4T: relu2,
               attn_sub_norm / ffn_sub_norm, tied), quantization_config linear_class
               "autobitlinear": U8 weights packed [out/4, in], BF16 weight_scale [1], w = t * scale
  bitnet_div   the same with linear_class "bitlinear" (w = t / weight_scale), untied head
  trilm        TriLM unpacked: LlamaForCausalLM F16 weights that are exactly +-s or 0, with s per
               row for q/k/v/gate/up and per tensor for o/down
  i2s          bitnet.cpp GGUF (architecture bitnet-b1.58) with I2_S linears (one f32 scale per
               tensor), F32 embeddings / head / norms, a synthetic SentencePiece vocab

--break makes one defect for the error tests: missing_clip, w_bits2, w_bits3, w_bits4
(paretoq*), packed_shape, zero_scale, missing_scale (bitnet_*), i2s_size (the last I2_S
tensor's shape claims twice the data the file holds).

HF folders get config.json, model.safetensors and tokenizer.model (copied from
--tokenizer, default /work/shared/models/tok512.model). Rounding ties of the quantizers are
avoided (|w / alpha| is kept away from 1/3), so float32 and float64 agree on every trit.
Prints one summary line to stderr.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
import hf_fixture  # noqa: E402
import make_random_model  # noqa: E402

ZERO_FRACTION = 0.3
LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def base_config(arch, model_type, hidden, ffn, layers, heads, kv, tied, act="silu"):
    return {
        "architectures": [arch], "model_type": model_type, "hidden_size": hidden,
        "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "tie_word_embeddings": tied, "hidden_act": act,
        "attention_bias": False, "rope_scaling": None, "bos_token_id": 1, "eos_token_id": 2,
    }


def linear_shapes(cfg):
    h, f = cfg["hidden_size"], cfg["intermediate_size"]
    hd = h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    return {"self_attn.q_proj": (q, h), "self_attn.k_proj": (kv, h), "self_attn.v_proj": (kv, h),
            "self_attn.o_proj": (h, q), "mlp.gate_proj": (f, h), "mlp.up_proj": (f, h),
            "mlp.down_proj": (h, f)}


def bf16(x):
    return hf_fixture.bf16_bits_to_f32(hf_fixture.f32_to_bf16_bits(np.asarray(x, np.float32)))


def trits(rng, shape):
    n = int(np.prod(shape))
    t = rng.choice(np.array([-1, 1], dtype=np.int8), size=n)
    t[rng.permutation(n)[:int(ZERO_FRACTION * n)]] = 0
    return t.reshape(shape)


# ---------------------------------------------------------------- safetensors (mixed dtypes)

def write_safetensors(path, tensors):
    """tensors: list of (name, dtype "F32"/"F16"/"BF16"/"U8", array)."""
    header, blobs, off = {}, [], 0
    for name, dtype, arr in tensors:
        if dtype == "U8":
            raw = np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
        else:
            raw, _ = hf_fixture.encode(arr, {"F32": "f32", "F16": "f16", "BF16": "bf16"}[dtype])
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((-len(hj)) % 8)
    with open(path, "wb") as f:
        f.write(len(hj).to_bytes(8, "little") + hj)
        for b in blobs:
            f.write(b)


def common_tensors(rng, cfg, vocab, dtype, sub_norms=None):
    """Embedding, norms (and untied head): list of (name, dtype, array)."""
    h = cfg["hidden_size"]
    # embedding std 0.1 (tied heads): logits of a few units, not a peaked random model
    out = [("model.embed_tokens.weight", dtype, (0.1 * rng.standard_normal((vocab, h))).astype(np.float32)),
           ("model.norm.weight", dtype, (1 + 0.1 * rng.standard_normal(h)).astype(np.float32))]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        for n in ("input_layernorm.weight", "post_attention_layernorm.weight"):
            out.append((p + n, dtype, (1 + 0.1 * rng.standard_normal(h)).astype(np.float32)))
        if sub_norms:
            hd = h // cfg["num_attention_heads"]
            out.append((p + sub_norms[0], dtype, (1 + 0.1 * rng.standard_normal(cfg["num_attention_heads"] * hd)).astype(np.float32)))
            out.append((p + sub_norms[1], dtype, (1 + 0.1 * rng.standard_normal(cfg["intermediate_size"])).astype(np.float32)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", dtype, (rng.standard_normal((vocab, h)) / np.sqrt(h)).astype(np.float32)))
    return out


# ---------------------------------------------------------------- the kinds

def paretoq(rng, vocab, w_bits, brk):
    if w_bits == 0:
        cfg = base_config("LlamaForCausalLM", "llama", 256, 512, 2, 4, 2, True)
    else:
        cfg = base_config("LlamaForCausalLM", "llama", 96, 256, 2, 4, 2, True)
    cfg["w_bits"] = {"w_bits2": 2, "w_bits3": 3, "w_bits4": 4}.get(brk, w_bits)
    # Embedding and norms in F32: BF16 ones make int8 activation rounding ties (a ratio of
    # two short-mantissa products landing on k + 1/2) that float32 and float64 break apart.
    T = common_tensors(rng, cfg, vocab, "F32")
    for i in range(cfg["num_hidden_layers"]):
        for lin, (n_out, n_in) in linear_shapes(cfg).items():
            name = "model.layers.%d.%s." % (i, lin)
            # ternary value = alpha / 1.5 (w_bits 0) or alpha (w_bits 1), about 1/sqrt(0.7 n_in)
            gain = 1.5 if w_bits == 0 else 1.0
            alpha = bf16(gain / np.sqrt(0.7 * n_in) * rng.uniform(0.7, 1.4, size=(n_out, 1)))
            if w_bits == 0:
                u = rng.uniform(-1.3, 1.3, size=(n_out, n_in))
                near = np.abs(np.abs(u) - 1 / 3) < 0.03          # keep away from the rounding tie
                u[near] = np.sign(u[near]) * 0.6
            else:
                u = rng.standard_normal((n_out, n_in))
                u[rng.random((n_out, n_in)) < 0.05] = 0.0       # sign(0) = 0
            T.append((name + "weight", "BF16", (u * alpha).astype(np.float32)))
            if not (brk == "missing_clip" and i == 1 and lin == "mlp.up_proj"):
                T.append((name + "weight_clip_val", "BF16", alpha.astype(np.float32)))
    return cfg, T


def pack_bitnet(t):
    """[out, in] trits -> U8 [out/4, in]: packed row r holds rows r + k*out/4 in bits 2k+1..2k."""
    q = t.shape[0] // 4
    codes = (t + 1).astype(np.uint8)
    return codes[0:q] | (codes[q:2 * q] << 2) | (codes[2 * q:3 * q] << 4) | (codes[3 * q:4 * q] << 6)


def bitnet_packed(rng, vocab, linear_class, brk):
    cfg = base_config("BitNetForCausalLM", "bitnet", 64, 160, 2, 4, 2, linear_class == "autobitlinear", "relu2")
    cfg["rope_theta"] = 500000.0
    cfg["quantization_config"] = {"quant_method": "bitnet", "linear_class": linear_class,
                                  "quantization_mode": "offline", "use_rms_norm": False}
    T = common_tensors(rng, cfg, vocab, "BF16", ("self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight"))
    for i in range(cfg["num_hidden_layers"]):
        for lin, (n_out, n_in) in linear_shapes(cfg).items():
            name = "model.layers.%d.%s." % (i, lin)
            s = 1.0 / np.sqrt(0.7 * n_in) * rng.uniform(0.8, 1.25)
            ws = bf16([s if linear_class == "autobitlinear" else 1.0 / s])
            packed = pack_bitnet(trits(rng, (n_out, n_in)))
            if brk == "packed_shape" and i == 0 and lin == "self_attn.v_proj":
                packed = np.concatenate([packed, packed[:1]])    # [out/4 + 1, in]
            T.append((name + "weight", "U8", packed))
            if brk == "zero_scale" and i == 1 and lin == "mlp.gate_proj":
                ws = np.zeros(1, np.float32)
            if not (brk == "missing_scale" and i == 1 and lin == "self_attn.o_proj"):
                T.append((name + "weight_scale", "BF16", ws.astype(np.float32)))
    return cfg, T


def trilm(rng, vocab):
    cfg = base_config("LlamaForCausalLM", "llama", 64, 128, 2, 4, 2, False)
    T = common_tensors(rng, cfg, vocab, "F16")
    for i in range(cfg["num_hidden_layers"]):
        for lin, (n_out, n_in) in linear_shapes(cfg).items():
            per_row = lin not in ("self_attn.o_proj", "mlp.down_proj")
            shape = (n_out, 1) if per_row else (1, 1)
            s = (1.0 / np.sqrt(0.7 * n_in) * rng.uniform(0.7, 1.4, size=shape)).astype(np.float16).astype(np.float32)
            T.append(("model.layers.%d.%s.weight" % (i, lin), "F16", trits(rng, (n_out, n_in)) * s))
    return cfg, T


def pack_i2s(t):
    """Flattened trits -> I2_S bytes: blocks of 128 in 32 bytes, weight j in byte j % 32 at bits 7-2(j//32)..6-2(j//32)."""
    codes = (t.reshape(-1, 4, 32) + 1).astype(np.uint8)                 # [blocks, group j//32, j%32]
    return (codes[:, 0] << 6 | codes[:, 1] << 4 | codes[:, 2] << 2 | codes[:, 3]).reshape(-1)


def permute_rows_for_llama(w, n_heads):
    """HF half-split RoPE row order -> llama.cpp adjacent pairs (as GGUF converters do)."""
    hd = w.shape[0] // n_heads
    return w.reshape(n_heads, 2, hd // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def i2s_gguf(rng, path, brk):
    arch, h, f, layers, heads, kv, vocab = "bitnet-b1.58", 128, 256, 2, 4, 2, 300
    hd = h // heads
    w = gguf.GGUFWriter()
    w.add_string("general.architecture", arch)
    w.add_string("general.name", "i2s fixture")
    for key, v in (("context_length", 256), ("embedding_length", h), ("feed_forward_length", f),
                   ("block_count", layers), ("attention.head_count", heads), ("attention.head_count_kv", kv),
                   ("rope.dimension_count", hd), ("vocab_size", vocab)):
        w.add_u32(arch + "." + key, v)
    w.add_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5)
    w.add_f32(arch + ".rope.freq_base", 500000.0)
    make_random_model.add_tokenizer(w, vocab)

    def f32(name, a):
        a = np.asarray(a, "<f4")
        w.add_tensor(name, gguf.F32, list(reversed(a.shape)), a)

    def i2s(name, n_out, n_in, rope_heads=0):
        t = trits(rng, (n_out, n_in))
        if rope_heads:
            t = permute_rows_for_llama(t, rope_heads)
        scale = np.float32(1.0 / np.sqrt(0.7 * n_in) * rng.uniform(0.8, 1.25))
        raw = pack_i2s(t).tobytes() + np.array([scale], "<f4").tobytes() + bytes(28)
        w.add_tensor(name, gguf.I2_S, [n_in, n_out], raw)

    f32("token_embd.weight", 0.1 * rng.standard_normal((vocab, h)))
    f32("output_norm.weight", 1 + 0.1 * rng.standard_normal(h))
    f32("output.weight", rng.standard_normal((vocab, h)) / np.sqrt(h))
    for b in range(layers):
        p = "blk.%d." % b
        f32(p + "attn_norm.weight", 1 + 0.1 * rng.standard_normal(h))
        i2s(p + "attn_q.weight", heads * hd, h, heads)
        i2s(p + "attn_k.weight", kv * hd, h, kv)
        i2s(p + "attn_v.weight", kv * hd, h)
        f32(p + "attn_sub_norm.weight", 1 + 0.1 * rng.standard_normal(heads * hd))
        i2s(p + "attn_output.weight", h, heads * hd)
        f32(p + "ffn_norm.weight", 1 + 0.1 * rng.standard_normal(h))
        i2s(p + "ffn_gate.weight", f, h)
        i2s(p + "ffn_up.weight", f, h)
        f32(p + "ffn_sub_norm.weight", 1 + 0.1 * rng.standard_normal(f))
        i2s(p + "ffn_down.weight", h, f)
    if brk == "i2s_size":  # the last tensor's shape claims twice the rows its data has
        name, type_id, ne, raw = w.tensors[-1]
        w.tensors[-1] = (name, type_id, [ne[0], ne[1] * 2], raw)
    w.write(path)
    return len(w.tensors)


def main(argv=None):
    ap = argparse.ArgumentParser(description="tiny ternary-format checkpoint fixtures")
    ap.add_argument("--kind", required=True,
                    choices=["paretoq158", "paretoq1", "bitnet_auto", "bitnet_div", "trilm", "i2s"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--break", dest="brk", default="",
                    choices=["", "missing_clip", "w_bits2", "w_bits3", "w_bits4", "packed_shape", "zero_scale",
                             "missing_scale", "i2s_size"])
    ap.add_argument("--tokenizer", default=hf_fixture.DEFAULT_TOKENIZER)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    if a.kind == "i2s":
        n = i2s_gguf(rng, a.out, a.brk)
        sys.stderr.write("ternary_fixture: i2s -> %s (%d tensors)\n" % (a.out, n))
        return
    vocab = hf_fixture.count_spm_pieces(a.tokenizer)
    if a.kind.startswith("paretoq"):
        cfg, T = paretoq(rng, vocab, 0 if a.kind == "paretoq158" else 1, a.brk)
    elif a.kind.startswith("bitnet"):
        cfg, T = bitnet_packed(rng, vocab, "autobitlinear" if a.kind == "bitnet_auto" else "bitlinear", a.brk)
    else:
        cfg, T = trilm(rng, vocab)
    cfg["vocab_size"] = vocab
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
        fh.write("\n")
    shutil.copyfile(a.tokenizer, os.path.join(a.out, "tokenizer.model"))
    write_safetensors(os.path.join(a.out, "model.safetensors"), T)
    sys.stderr.write("ternary_fixture: %s -> %s (%d tensors, vocab %d)\n" % (a.kind, a.out, len(T), vocab))


if __name__ == "__main__":
    main()
