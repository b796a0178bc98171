#!/usr/bin/python3
"""Writes a random tiny `mobilellm` GGUF (FORMAT.md section 3) for tests.

Usage:
    /usr/bin/python3 tools/reference/make_random_model.py --out m.gguf [--seed 0]
        [--dim 64] [--ffn 96] [--heads 4] [--kv-heads 2] [--head-dim D] [--blocks 2]
        [--repeat 2] [--vocab 300] [--ctx 128] [--ternary-type tern2|tq2_0|tq1_0]
        [--embd-type f32|f16|bf16|q4_0|q8_0|q4_k|q6_k] [--output-type T] [--untied] [--sub-norms] [--linear-norm]
        [--no-block-norms] [--act silu|relu2] [--rope-base 10000] [--eps 1e-5]

Ternary scales are chosen as ~1/sqrt(#nonzero weights per row) so every linear roughly
preserves the activation RMS and logits stay O(1..10) (not degenerate) through the layers.
The TQ types need every linear input width to be a multiple of 256, so choosing one
defaults dim to 256 and ffn to 512. Q8_0 embeddings need dim % 32 == 0, Q4_K / Q6_K
dim % 256 == 0.
Deep models with --no-block-norms and no --sub-norms can overflow (the gated FFN grows
faster than linearly with the residual); keep such models to a few layers.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

TERNARY = {"tern2": gguf.TERN2, "tq2_0": gguf.TQ2_0, "tq1_0": gguf.TQ1_0}
FLOAT = {"f32": gguf.F32, "f16": gguf.F16, "q4_0": gguf.Q4_0, "q8_0": gguf.Q8_0, "bf16": gguf.BF16, "q4_k": gguf.Q4_K,
         "q6_k": gguf.Q6_K}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="random tiny mobilellm GGUF")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dim", type=int)
    ap.add_argument("--ffn", type=int)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=300)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--ternary-type", choices=sorted(TERNARY), default="tern2")
    ap.add_argument("--embd-type", choices=sorted(FLOAT), default="f32")
    ap.add_argument("--untied", action="store_true", help="write a separate output.weight")
    ap.add_argument("--output-type", choices=sorted(FLOAT), help="output.weight's type (default: --embd-type)")
    ap.add_argument("--sub-norms", action="store_true", help="write attn/ffn sub-norms")
    ap.add_argument("--linear-norm", action="store_true")
    ap.add_argument("--no-block-norms", action="store_true", help="omit attn_norm/ffn_norm")
    ap.add_argument("--act", choices=("silu", "relu2"), default="silu")
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--eps", type=float, default=1e-5)
    args = ap.parse_args(argv)
    tq = args.ternary_type != "tern2"
    if args.dim is None:
        args.dim = 256 if tq else 64
    if args.ffn is None:
        args.ffn = 512 if tq else 96
    if args.head_dim is None:
        args.head_dim = args.dim // args.heads
    return args


# ----------------------------------------------------------------------------- tokenizer

def make_vocab(n_vocab):
    """A valid SentencePiece-style vocab: <unk>,<s>,</s>, 256 byte tokens, normal pieces."""
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    if n_vocab < len(pieces):
        raise ValueError(f"--vocab must be at least {len(pieces)}")
    letters = "abcdefghijklmnopqrstuvwxyz"
    normal = ["\u2581"] + list(letters) + ["\u2581" + c for c in letters]
    normal += [a + b for a in letters for b in letters]
    normal += ["\u2581" + a + b for a in letters for b in letters]
    normal = normal[:n_vocab - len(pieces)]
    if len(pieces) + len(normal) < n_vocab:
        raise ValueError("--vocab too large for the generated piece list")
    scores = [0.0] * len(pieces) + [-float(i) for i in range(len(normal))]
    return pieces + normal, scores, types + [1] * len(normal)


def add_tokenizer(w, n_vocab):
    pieces, scores, types = make_vocab(n_vocab)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", gguf.STRING, pieces)
    w.add_array("tokenizer.ggml.scores", gguf.F32_V, scores)
    w.add_array("tokenizer.ggml.token_type", gguf.I32, types)
    w.add_u32("tokenizer.ggml.bos_token_id", 1)
    w.add_u32("tokenizer.ggml.eos_token_id", 2)
    w.add_u32("tokenizer.ggml.unknown_token_id", 0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_bool("tokenizer.ggml.add_eos_token", False)


# ----------------------------------------------------------------------------- tensors

def encode_float(type_id, w):
    """Encodes a float matrix/vector in one of the float types; returns raw bytes."""
    w = np.asarray(w, dtype=np.float32)
    if type_id == gguf.F32:
        return w.astype("<f4").tobytes()
    if type_id == gguf.F16:
        return gguf.f32_to_f16_bytes(w)
    if type_id == gguf.BF16:
        return gguf.f32_to_bf16_bytes(w)
    if type_id == gguf.Q4_K:
        return gguf.quantize_q4_k(w)
    if type_id == gguf.Q6_K:
        return gguf.quantize_q6_k(w)
    if type_id == gguf.Q4_0:
        return gguf.quantize_q4_0(w)
    return gguf.quantize_q8_0(w)


def random_codes(rng, n_out, n_in):
    """Ternary codes with ~1/3 zeros."""
    return rng.integers(-1, 2, size=(n_out, n_in)).astype(np.int8)


def encode_ternary(rng, type_id, n_out, n_in, gain):
    """Random ternary matrix; scale ~ gain / sqrt(2/3 * n_in) keeps the output RMS ~ gain * input RMS."""
    codes = random_codes(rng, n_out, n_in)
    scale = gain / np.sqrt(2.0 / 3.0 * n_in)
    if type_id == gguf.TERN2:
        return gguf.pack_tern2(codes, np.float32(scale * rng.uniform(0.8, 1.2)))
    if n_in % gguf.QK_K:
        raise ValueError(f"{gguf.TYPE_NAMES[type_id]} needs widths that are multiples of 256, got {n_in}")
    d = scale * rng.uniform(0.8, 1.2, size=(n_out, n_in // gguf.QK_K))
    enc = gguf.quantize_tq1_0 if type_id == gguf.TQ1_0 else gguf.quantize_tq2_0
    return enc(codes, d)


def norm_weight(rng, n):
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)


def build(args):
    """Returns a GGUFWriter holding the whole random model described by args."""
    rng = np.random.default_rng(args.seed)
    tern, embd_type = TERNARY[args.ternary_type], FLOAT[args.embd_type]
    dim, ffn, hd = args.dim, args.ffn, args.head_dim
    q_dim, kv_dim = args.heads * hd, args.kv_heads * hd
    w = gguf.GGUFWriter()
    a = "mobilellm."
    w.add_string("general.architecture", "mobilellm")
    w.add_string("general.name", f"random-{args.ternary_type}-seed{args.seed}")
    w.add_u32(a + "context_length", args.ctx)
    w.add_u32(a + "embedding_length", dim)
    w.add_u32(a + "feed_forward_length", ffn)
    w.add_u32(a + "block_count", args.blocks)
    w.add_u32(a + "attention.head_count", args.heads)
    w.add_u32(a + "attention.head_count_kv", args.kv_heads)
    w.add_u32(a + "attention.key_length", hd)
    w.add_f32(a + "attention.layer_norm_rms_epsilon", args.eps)
    w.add_f32(a + "rope.freq_base", args.rope_base)
    w.add_u32(a + "rope.dimension_count", hd)
    w.add_u32(a + "vocab_size", args.vocab)
    w.add_u32(a + "block_repeat", args.repeat)
    w.add_string(a + "ffn_activation", args.act)
    w.add_bool(a + "linear_norm", args.linear_norm)
    if args.linear_norm:
        w.add_f32(a + "linear_norm_epsilon", 1e-6)
    add_tokenizer(w, args.vocab)

    # std 3/sqrt(dim): logits = E . rmsnorm(x) then have std ~3 whatever dim is, and the
    # input embedding does not dominate the residual (else argmax would echo the input).
    embd_std = 3.0 / np.sqrt(dim)
    embd = (embd_std * rng.standard_normal((args.vocab, dim))).astype(np.float32)
    w.add_tensor("token_embd.weight", embd_type, [dim, args.vocab], encode_float(embd_type, embd))
    w.add_tensor("output_norm.weight", gguf.F32, [dim], norm_weight(rng, dim))
    if args.untied:
        out = (embd_std * rng.standard_normal((args.vocab, dim))).astype(np.float32)
        out_type = FLOAT[args.output_type] if args.output_type else embd_type
        w.add_tensor("output.weight", out_type, [dim, args.vocab], encode_float(out_type, out))
    # Without block norms the layers see the small embedding scale directly, so their
    # outputs need more gain to not be swamped by the embedding in the residual.
    out_gain = 0.5 if not args.no_block_norms else 1.0
    for n in range(args.blocks):
        b = f"blk.{n}."

        def lin(name, n_in, n_out, gain=1.0):
            w.add_tensor(b + name + ".weight", tern, [n_in, n_out],
                         encode_ternary(rng, tern, n_out, n_in, gain))

        def norm(name, size):
            w.add_tensor(b + name + ".weight", gguf.F32, [size], norm_weight(rng, size))

        if not args.no_block_norms:
            norm("attn_norm", dim)
        lin("attn_q", dim, q_dim)
        lin("attn_k", dim, kv_dim)
        lin("attn_v", dim, kv_dim)
        if args.sub_norms:
            norm("attn_sub_norm", q_dim)
        lin("attn_output", q_dim, dim, gain=out_gain)
        if not args.no_block_norms:
            norm("ffn_norm", dim)
        lin("ffn_gate", dim, ffn)
        lin("ffn_up", dim, ffn)
        if args.sub_norms:
            norm("ffn_sub_norm", ffn)
        lin("ffn_down", ffn, dim, gain=out_gain)
    return w


def main(argv=None):
    args = parse_args(argv)
    build(args).write(args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
