#!/usr/bin/python3
"""Reference forward pass for tern's model files (FORMAT.md section 4), in float64 numpy.

Usage:
    /usr/bin/python3 tools/reference/forward.py MODEL.gguf --tokens 1,5,9 --out logits.bin

writes little-endian float32 logits of shape [n_tokens, n_vocab] (one row per position of
the causal sequence). Importable: load_model(path), forward(model, tokens).

Everything runs as one causal pass over the whole sequence, which equals token-by-token
decoding with a KV cache (position p attends to 0..p). Float parts are float64 so the
reference's own rounding is negligible next to the engine's; the ternary linear does the
spec's int8 absmax quantization and integer sums exactly.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

ARCHS = ("mobilellm", "llama")


# ----------------------------------------------------------------------------- linears

class FloatLinear:
    """y = W x with W dequantized (F32/F16/BF16/Q8_0)."""

    def __init__(self, w):
        self.w = np.asarray(w, dtype=np.float64)  # [n_out, n_in]

    def __call__(self, x):
        return x @ self.w.T


class TernaryLinear:
    """BitNet b1.58 W1.58A8 linear (TQ1_0/TQ2_0/TERN2), per FORMAT.md section 4.

    codes: int8 [n_out, n_in]; scales: [n_out, n_blocks] where each of the n_blocks equal
    slices of a row has its own scale (n_blocks = 1 for TERN2).
    """

    def __init__(self, codes, scales, linear_norm=False, linear_norm_eps=0.0):
        self.codes = np.asarray(codes, dtype=np.int8)
        self.scales = np.asarray(scales, dtype=np.float64)
        self.linear_norm, self.linear_norm_eps = linear_norm, float(linear_norm_eps)
        n_out, n_in = self.codes.shape
        self.n_blocks = self.scales.shape[1]
        self.block = n_in // self.n_blocks
        assert self.block * self.n_blocks == n_in
        # Integer sums are done as float64 matmuls of small integers: |acc| <= 127 * n_in
        # is far below 2^53, so every partial sum is exact, i.e. identical to int32 sums.
        assert 127 * n_in < 2 ** 53
        self.codes_f = self.codes.astype(np.float64)

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        q, a = quantize_activations(x)
        if self.linear_norm:
            # The weightless norm divides x by s = rms(x); absmax quantization does not see
            # a common factor, so (FORMAT.md section 4) q comes from x and s divides a.
            a = a / np.sqrt(np.mean(x * x, axis=-1) + self.linear_norm_eps)
        y = np.zeros(x.shape[:-1] + (self.codes.shape[0],))
        for b in range(self.n_blocks):
            cols = slice(b * self.block, (b + 1) * self.block)
            acc = q[..., cols].astype(np.float64) @ self.codes_f[:, cols].T  # exact integers
            y += acc * self.scales[:, b]
        return y * (a / 127.0)[..., None]


def quantize_activations(x):
    """Per-row int8 absmax quantization: q = round_half_even(x * 127 / a), a = max|x|.

    Rows with a == 0 get q = 0 (so y = 0). Returns (q int32, a float64 per row).
    """
    a = np.max(np.abs(x), axis=-1)
    safe = np.where(a == 0, 1.0, a)
    q = np.rint(x * 127.0 / safe[..., None]).astype(np.int32)  # np.rint rounds half to even
    q[a == 0] = 0
    assert np.all(np.abs(q) <= 127)
    return q, a


def make_linear(tensor, linear_norm=False, linear_norm_eps=0.0):
    type_id, ne, raw = tensor
    if len(ne) != 2:
        raise ValueError(f"linear weight must be a matrix, got ne={ne}")
    if type_id in gguf.TERNARY_TYPES:
        codes, scales = gguf.ternary_codes(type_id, ne, raw)
        return TernaryLinear(codes, scales, linear_norm, linear_norm_eps)
    return FloatLinear(gguf.dequantize(type_id, ne, raw))


# ----------------------------------------------------------------------------- model

class Model:
    """Hyperparameters plus per-stored-block weights; a plain attribute bag."""


def _get(meta, key, default=None, required=False):
    if key in meta:
        return meta[key]
    if required:
        raise ValueError(f"missing required key {key}")
    return default


def load_model(path):
    """Loads a `mobilellm` or `llama` GGUF into a Model (FORMAT.md section 3)."""
    meta, tensors = gguf.read_gguf(path)
    arch = _get(meta, "general.architecture", required=True)
    if arch not in ARCHS:
        raise ValueError(f"unsupported architecture {arch}")
    m = Model()
    m.arch = arch
    p = arch + "."
    m.dim = int(_get(meta, p + "embedding_length", required=True))
    m.ffn = int(_get(meta, p + "feed_forward_length", required=True))
    m.n_blocks = int(_get(meta, p + "block_count", required=True))
    m.n_heads = int(_get(meta, p + "attention.head_count", required=True))
    m.n_kv = int(_get(meta, p + "attention.head_count_kv", m.n_heads))
    m.head_dim = int(_get(meta, p + "attention.key_length", m.dim // m.n_heads))
    m.eps = float(_get(meta, p + "attention.layer_norm_rms_epsilon", required=True))
    m.rope_base = float(_get(meta, p + "rope.freq_base", 10000.0))
    m.context_length = int(_get(meta, p + "context_length", required=True))
    rope_dims = int(_get(meta, p + "rope.dimension_count", m.head_dim))
    if rope_dims != m.head_dim:
        raise ValueError(f"rope.dimension_count {rope_dims} != head_dim {m.head_dim}")
    if m.n_heads % m.n_kv:
        raise ValueError("head_count_kv must divide head_count")
    mob = arch == "mobilellm"
    m.repeat = int(_get(meta, "mobilellm.block_repeat", 1)) if mob else 1
    m.act = _get(meta, "mobilellm.ffn_activation", "silu") if mob else "silu"
    if m.act not in ("silu", "relu2"):
        raise ValueError(f"unknown ffn_activation {m.act}")
    lin_norm = bool(_get(meta, "mobilellm.linear_norm", False)) if mob else False
    lin_eps = float(_get(meta, "mobilellm.linear_norm_epsilon", 0.0)) if mob else 0.0

    used = set()

    def take(name, required=True):
        if name not in tensors:
            if required:
                raise ValueError(f"missing tensor {name}")
            return None
        used.add(name)
        return tensors[name]

    def vec(name, required):
        t = take(name, required)
        return None if t is None else gguf.dequantize(*t).astype(np.float64)

    def lin(name):
        return make_linear(take(name), lin_norm, lin_eps)

    m.embd = gguf.dequantize(*take("token_embd.weight")).astype(np.float64)  # [n_vocab, dim]
    m.n_vocab = m.embd.shape[0]
    vocab_size = _get(meta, p + "vocab_size")
    if vocab_size is not None and int(vocab_size) != m.n_vocab:
        raise ValueError(f"vocab_size {vocab_size} != embedding rows {m.n_vocab}")
    m.output_norm = vec("output_norm.weight", True)
    out = take("output.weight", required=False)
    m.head = m.embd if out is None else gguf.dequantize(*out).astype(np.float64)
    m.blocks = []
    for n in range(m.n_blocks):
        b = f"blk.{n}."
        m.blocks.append({
            "attn_norm": vec(b + "attn_norm.weight", not mob),
            "q": lin(b + "attn_q.weight"), "k": lin(b + "attn_k.weight"),
            "v": lin(b + "attn_v.weight"), "o": lin(b + "attn_output.weight"),
            "attn_sub_norm": vec(b + "attn_sub_norm.weight", False),
            "ffn_norm": vec(b + "ffn_norm.weight", not mob),
            "gate": lin(b + "ffn_gate.weight"), "up": lin(b + "ffn_up.weight"),
            "down": lin(b + "ffn_down.weight"),
            "ffn_sub_norm": vec(b + "ffn_sub_norm.weight", False),
        })
    unknown = sorted(set(tensors) - used)
    if unknown:
        if mob:
            raise ValueError(f"unknown tensors: {unknown}")
        print(f"warning: ignoring unknown tensors {unknown}", file=sys.stderr)
    return m


# ----------------------------------------------------------------------------- math

def rmsnorm(x, w, eps):
    """w_i * x_i / sqrt(mean(x^2) + eps), over the last axis."""
    return w * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def rope(x, positions, base):
    """Rotates adjacent pairs (x[2j], x[2j+1]) by p * base^(-2j/head_dim); x: [T, heads, head_dim]."""
    head_dim = x.shape[-1]
    j = np.arange(head_dim // 2)
    angle = positions[:, None] * base ** (-2.0 * j / head_dim)  # [T, head_dim/2]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def activation(z, kind):
    if kind == "silu":
        return z / (1.0 + np.exp(-z))
    return np.maximum(z, 0.0) ** 2


def attention(q, k, v, n_heads, n_kv):
    """Causal grouped-query attention; q: [T, n_heads, hd], k/v: [T, n_kv, hd] -> [T, n_heads*hd]."""
    T, _, hd = q.shape
    group = n_heads // n_kv
    out = np.empty_like(q)
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)  # True where t > p (future)
    for i in range(n_heads):
        g = i // group
        s = q[:, i, :] @ k[:, g, :].T / np.sqrt(hd)  # [p, t]
        s[mask] = -np.inf
        s = s - s.max(axis=1, keepdims=True)
        e = np.exp(s)
        a = e / e.sum(axis=1, keepdims=True)
        out[:, i, :] = a @ v[:, g, :]
    return out.reshape(T, n_heads * hd)


def _maybe_norm(x, w, eps):
    return x if w is None else rmsnorm(x, w, eps)


def layer(m, blk, x, positions, kv_f16=False):
    """One executed layer (FORMAT.md section 4 loop body) on the whole sequence x: [T, dim].

    kv_f16: keys (after RoPE) and values are stored as IEEE half, as in an F16 KV cache."""
    T = x.shape[0]
    h = _maybe_norm(x, blk["attn_norm"], m.eps)
    q = blk["q"](h).reshape(T, m.n_heads, m.head_dim)
    k = blk["k"](h).reshape(T, m.n_kv, m.head_dim)
    v = blk["v"](h).reshape(T, m.n_kv, m.head_dim)
    q, k = rope(q, positions, m.rope_base), rope(k, positions, m.rope_base)
    if kv_f16:
        k = k.astype(np.float32).astype(np.float16).astype(np.float64)
        v = v.astype(np.float32).astype(np.float16).astype(np.float64)
    o = attention(q, k, v, m.n_heads, m.n_kv)
    o = _maybe_norm(o, blk["attn_sub_norm"], m.eps)
    x = x + blk["o"](o)
    h = _maybe_norm(x, blk["ffn_norm"], m.eps)
    mm = activation(blk["gate"](h), m.act) * blk["up"](h)
    mm = _maybe_norm(mm, blk["ffn_sub_norm"], m.eps)
    return x + blk["down"](mm)


def forward(model, tokens, kv_f16=False):
    """Logits [n_tokens, n_vocab] (float64) for every position of the causal sequence."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.size == 0:
        return np.zeros((0, model.n_vocab))
    if tokens.min() < 0 or tokens.max() >= model.n_vocab:
        raise ValueError("token id out of range")
    x = model.embd[tokens]
    positions = np.arange(len(tokens), dtype=np.float64)
    for l in range(model.n_blocks * model.repeat):
        x = layer(model, model.blocks[l // model.repeat], x, positions, kv_f16)
    x = rmsnorm(x, model.output_norm, model.eps)
    return x @ model.head.T


# ----------------------------------------------------------------------------- CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--out", required=True, help="raw little-endian float32 [n_tokens, n_vocab]")
    ap.add_argument("--kv-f16", action="store_true", help="round keys and values to float16 (an F16 KV cache)")
    args = ap.parse_args(argv)
    tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    logits = forward(load_model(args.model), tokens, args.kv_f16)
    logits.astype("<f4").tofile(args.out)
    print(f"wrote {args.out}: {logits.shape[0]} x {logits.shape[1]} float32", file=sys.stderr)


if __name__ == "__main__":
    main()
