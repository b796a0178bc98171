#!/usr/bin/python3
"""Independent numpy forward pass of a Hugging Face checkpoint folder (float64).

Usage:
    /usr/bin/python3 tools/reference/hf_forward.py DIR --tokens 1,5,9 --out logits.bin [--bitlinear]

With --bitlinear every block linear (q/k/v/o, gate/up/down) of any architecture runs as
the BitLinear below (absmean-ternarized weights, per-token int8 absmax activations): for
LlamaForCausalLM / MobileLLMForCausalLM that is exactly the model a post-training
ternarization by absmean produces; embeddings, norms and lm_head stay full precision.
Without it (the default) Llama/MobileLLM linears are plain float matmuls.

Writes float32 little-endian logits [n_tokens, vocab_size] (row-major, no header) of one
causal pass over the tokens. Importable: load_hf(dir) -> model, forward(model, tokens).

Implements the models the way the Hugging Face modeling code defines them (not tern's
conventions):
  * LlamaForCausalLM: RMSNorm w * x / sqrt(mean(x^2) + eps); RoPE in the rotate_half
    convention (head vector split into halves [x1, x2], inv_freq_j = theta^(-2j/d),
    out = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1]); GQA by repeat_kv;
    softmax(q k^T / sqrt(head_dim)) with a causal mask; MLP down(act(gate(x)) * up(x));
    lm_head separate or tied to embed_tokens.
  * MobileLLMForCausalLM: as llama; with layer_sharing the file stores num_hidden_layers
    unique blocks and each runs layer_sharing_repeat (default 2) times in a row
    (executed layer l uses block l // repeat).
  * BitnetForCausalLM (1bitLLM) / BitNetForCausalLM (bitnet-b1.58-2B-4T): every block
    linear is a BitLinear with full-precision stored weights:
      weights: s = max(mean|W|, 1e-5), T = clip(rint(W / s), -1, 1)
      input:   a = max(max_j |x_j|, 1e-5) per token, x_q = clip(rint(x * (127 / a)), -128, 127)
      y = (x_q @ T^T) * s * a / 127
    plus the sub-norms (RMSNorm, model eps) on the attention output before o_proj
    (inner_attn_ln / attn_sub_norm) and on act(gate(x)) * up(x) before down_proj
    (ffn_layernorm / ffn_sub_norm). hidden_act "relu2" is relu(x)^2. lm_head and
    embeddings are not quantized.
"""

import argparse
import json
import os
import sys

import numpy as np


# ---------------------------------------------------------------- safetensors

def read_safetensors(path):
    out = {}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[b:e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype("<u4") << 16).view("<f4")
        elif dt == "F64":
            a = np.frombuffer(raw, dtype="<f8")
        else:
            raise ValueError("%s: unsupported dtype %s for %s" % (path, dt, name))
        out[name] = a.astype(np.float64).reshape(info["shape"])
    return out


def load_tensors(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for fn in files:
        tensors.update(read_safetensors(os.path.join(d, fn)))
    return tensors


# ---------------------------------------------------------------- model

def load_hf(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    arch = (cfg.get("architectures") or [""])[0]
    W = load_tensors(d)
    m = {"cfg": cfg, "arch": arch, "W": W}
    m["bitlinear"] = arch in ("BitnetForCausalLM", "BitNetForCausalLM")
    if arch == "BitnetForCausalLM":
        m["sub_norms"] = ("self_attn.inner_attn_ln.weight", "mlp.ffn_layernorm.weight")
    elif arch == "BitNetForCausalLM":
        m["sub_norms"] = ("self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight")
    elif arch in ("LlamaForCausalLM", "MobileLLMForCausalLM"):
        m["sub_norms"] = None
    else:
        raise ValueError("unsupported architecture %r" % arch)
    n_blocks = cfg["num_hidden_layers"]
    repeat = 1
    if arch == "MobileLLMForCausalLM" and cfg.get("layer_sharing", False):
        repeat = int(cfg.get("layer_sharing_repeat", 2))
    m["layer_blocks"] = [l // repeat for l in range(n_blocks * repeat)]
    tied = cfg.get("tie_word_embeddings", False) or cfg.get("share_embedding", False)
    if tied or "lm_head.weight" not in W:
        if not tied:
            raise ValueError("lm_head.weight missing and embeddings not tied")
        m["lm_head"] = W["model.embed_tokens.weight"]
    else:
        m["lm_head"] = W["lm_head.weight"]
    return m


def rms_norm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def plain_linear(x, w):
    return x @ w.T


def bit_linear(x, w):
    s = max(np.mean(np.abs(w)), 1e-5)
    t = np.clip(np.rint(w / s), -1, 1)
    a = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), 1e-5)
    xq = np.clip(np.rint(x * (127.0 / a)), -128, 127)
    return (xq @ t.T) * s * a / 127.0


def int8_linear(x, w):
    a = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), 1e-5)
    xq = np.clip(np.rint(x * (127.0 / a)), -128, 127)
    return (xq @ w.T) * a / 127.0


def rope_cos_sin(n, head_dim, theta):
    inv_freq = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    ang = np.outer(np.arange(n, dtype=np.float64), inv_freq)       # [n, d/2]
    emb = np.concatenate([ang, ang], axis=-1)                       # [n, d]
    return np.cos(emb), np.sin(emb)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def apply_rope(x, cos, sin):
    """x: [heads, n, d]; cos/sin: [n, d]."""
    return x * cos + rotate_half(x) * sin


def act_fn(name, x):
    if name in ("silu", "swish"):
        return x / (1.0 + np.exp(-x))
    if name == "relu2":
        return np.square(np.maximum(x, 0.0))
    if name == "relu":
        return np.maximum(x, 0.0)
    if name in ("gelu", "gelu_pytorch_tanh", "gelu_new"):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError("unsupported hidden_act %r" % name)


def forward(model, tokens):
    cfg, W = model["cfg"], model["W"]
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    act = cfg.get("hidden_act", "silu")
    lin = model.get("linear") or (bit_linear if model["bitlinear"] else plain_linear)
    sub = model["sub_norms"]

    tokens = np.asarray(tokens, dtype=np.int64)
    n = len(tokens)
    x = W["model.embed_tokens.weight"][tokens]                       # [n, H]
    cos, sin = rope_cos_sin(n, hd, theta)
    mask = np.triu(np.full((n, n), -np.inf), k=1)
    grp = nh // nkv

    for b in model["layer_blocks"]:
        p = "model.layers.%d." % b
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, W[p + "self_attn.q_proj.weight"]).reshape(n, nh, hd).transpose(1, 0, 2)
        k = lin(h, W[p + "self_attn.k_proj.weight"]).reshape(n, nkv, hd).transpose(1, 0, 2)
        v = lin(h, W[p + "self_attn.v_proj.weight"]).reshape(n, nkv, hd).transpose(1, 0, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        k = np.repeat(k, grp, axis=0)                                # repeat_kv
        v = np.repeat(v, grp, axis=0)
        sc = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask           # [nh, n, n]
        sc = sc - sc.max(axis=-1, keepdims=True)
        pr = np.exp(sc)
        pr /= pr.sum(axis=-1, keepdims=True)
        o = (pr @ v).transpose(1, 0, 2).reshape(n, nh * hd)
        if sub:
            o = rms_norm(o, W[p + sub[0]], eps)
        x = x + lin(o, W[p + "self_attn.o_proj.weight"])

        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = act_fn(act, lin(h, W[p + "mlp.gate_proj.weight"])) * lin(h, W[p + "mlp.up_proj.weight"])
        if sub:
            g = rms_norm(g, W[p + sub[1]], eps)
        x = x + lin(g, W[p + "mlp.down_proj.weight"])

    x = rms_norm(x, W["model.norm.weight"], eps)
    return x @ model["lm_head"].T                                    # [n, vocab]


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy Hugging Face reference forward")
    ap.add_argument("dir")
    ap.add_argument("--tokens", required=True, help="comma separated token ids")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bitlinear", action="store_true",
                    help="run every block linear as a BitLinear (as the BitNet kinds do), "
                         "also for Llama/MobileLLM: the model tern gets by ternarizing a "
                         "full-precision checkpoint with absmean")
    ap.add_argument("--int8-activations", action="store_true",
                    help="block linears use the stored weights as they are with per-token int8 absmax "
                         "activations: the model tern runs for exact ternary float weights")
    a = ap.parse_args(argv)
    toks = [int(t) for t in a.tokens.split(",") if t.strip() != ""]
    model = load_hf(a.dir)
    if a.bitlinear:
        model["bitlinear"] = True
    if a.int8_activations:
        model["linear"] = int8_linear
    vocab = model["lm_head"].shape[0]
    bad = [t for t in toks if not 0 <= t < vocab]
    if not toks or bad:
        sys.exit("hf_forward: need token ids in [0, %d), got %r" % (vocab, bad or toks))
    logits = forward(model, toks)
    logits.astype("<f4").tofile(a.out)


if __name__ == "__main__":
    main()
