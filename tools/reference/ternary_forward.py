#!/usr/bin/python3
"""Independent numpy forward of the ternary checkpoint formats, read from their own files.

Usage:
    /usr/bin/python3 tools/reference/ternary_forward.py PATH --tokens 1,5,9 --out logits.bin
        [--act int8|float] [--greedy N]

PATH is a Hugging Face folder (MobileLLM-ParetoQ, offline-quantized BitNet, TriLM-style
exact ternary floats) or a bitnet.cpp GGUF with I2_S linears. Every block linear is
dequantized to float64 exactly as the format's own definition says (docs/FORMAT.md 2.6, 5.4;
nothing is read from a tern file):
  * ParetoQ (config `w_bits`): alpha = max(weight_clip_val, 1e-5) per row;
      w_bits 0: W_q = round(clip(W / alpha, -0.99, 0.99) * 1.5) / 1.5 * alpha  (round half even)
      w_bits 1: W_q = sign(W) * alpha
  * BitNet offline (`quantization_config.quant_method` "bitnet", U8 weights): unpack
      row r + k*out/4 = ((packed[r] >> 2k) & 3) - 1; AutoBitLinear (`linear_class`
      "autobitlinear"): W_q = T * weight_scale; BitLinear: W_q = T / weight_scale
  * float weights (TriLM): W_q = W as stored
  * I2_S: blocks of 128 weights in 32 bytes, weight j at byte j % 32, bits 7-2(j//32) ..
      6-2(j//32), code - 1; times the f32 after the n/4 code bytes. q/k rows are put back
      from llama.cpp's adjacent-pair order into the Hugging Face half-split order.
The model then runs as tools/reference/hf_forward.py defines it (rotate_half RoPE etc.).
--act int8 (default) quantizes every block linear's input per token as BitNet does
(a = max|x|, x_q = clip(round(x * 127 / a), -128, 127), y = (x_q @ W_q^T) * a / 127): the
definition for BitNet and I2_S, and what tern does for all. --act float keeps activations
in full precision: the ParetoQ / TriLM definition (16-bit activations, here float64).
Writes float32 logits [n_tokens, vocab]; with --greedy N also prints the N tokens a greedy
continuation of the tokens produces, comma separated, on stdout.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
import hf_forward  # noqa: E402

LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def read_safetensors_raw(path):
    """name -> (dtype, array): U8 as uint8, floats as float64."""
    out = {}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw, dt = data[b:e], info["dtype"]
        if dt == "U8":
            a = np.frombuffer(raw, np.uint8)
        elif dt == "F32":
            a = np.frombuffer(raw, "<f4").astype(np.float64)
        elif dt == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float64)
        elif dt == "BF16":
            a = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4").astype(np.float64)
        else:
            raise ValueError("%s: dtype %s of %s" % (path, dt, name))
        out[name] = (dt, a.reshape(info["shape"]))
    return out


def paretoq_weight(w, clip, w_bits):
    alpha = np.maximum(clip, 1e-5)
    if w_bits == 0:
        return np.round(np.clip(w / alpha, -0.99, 0.99) * 1.5) / 1.5 * alpha
    if w_bits == 1:
        return np.sign(w) * alpha
    raise ValueError("w_bits %r is not ternary" % w_bits)


def unpack_bitnet(packed):
    q = packed.shape[0]
    rows = [((packed >> (2 * k)) & 3).astype(np.int64) - 1 for k in range(4)]
    return np.concatenate(rows, axis=0).astype(np.float64)           # [4q, in]


def load_hf_folder(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    raw = read_safetensors_raw(os.path.join(d, "model.safetensors"))
    qc = cfg.get("quantization_config") or {}
    W = {}
    for name, (dt, a) in raw.items():
        if name.endswith(".weight_clip_val") or name.endswith(".weight_scale"):
            continue
        base = name[:-len("weight")]
        if "w_bits" in cfg and any(name.endswith(l + ".weight") for l in LINEARS):
            W[name] = paretoq_weight(a, raw[base + "weight_clip_val"][1], cfg["w_bits"])
        elif dt == "U8":
            assert qc.get("quant_method") == "bitnet"
            ws = float(raw[base + "weight_scale"][1].reshape(-1)[0])
            t = unpack_bitnet(a)
            W[name] = t * ws if qc.get("linear_class") == "autobitlinear" else t / ws
        else:
            W[name] = a
    arch = cfg["architectures"][0]
    sub = ("self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight") if arch == "BitNetForCausalLM" else None
    return make_model(cfg, arch, W, sub)


def make_model(cfg, arch, W, sub_norms):
    tied = cfg.get("tie_word_embeddings", False)
    return {"cfg": cfg, "arch": arch, "W": W, "bitlinear": False, "sub_norms": sub_norms,
            "layer_blocks": list(range(cfg["num_hidden_layers"])),
            "lm_head": W["model.embed_tokens.weight"] if tied else W["lm_head.weight"]}


def decode_i2s(raw, n_out, n_in):
    n = n_out * n_in
    codes = np.asarray(raw[:n // 4], np.uint8).reshape(-1, 32)          # [blocks, j % 32]
    groups = [(codes >> (6 - 2 * g)) & 3 for g in range(4)]            # group g = j // 32
    t = np.stack(groups, axis=1).reshape(-1).astype(np.int64)
    if np.any(t == 3):
        raise ValueError("invalid I2_S code 3")
    scale = np.frombuffer(bytes(raw[n // 4:n // 4 + 4]), "<f4")[0]
    return (t - 1).reshape(n_out, n_in).astype(np.float64) * float(scale)


def unpermute_rows(w, n_heads):
    """llama.cpp adjacent-pair row order -> HF half-split order (inverse of the converters' permute)."""
    hd = w.shape[0] // n_heads
    return w.reshape(n_heads, hd // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def load_i2s_gguf(path):
    meta, tensors = gguf.read_gguf(path)
    arch = meta["general.architecture"]
    a = arch + "."
    cfg = {"hidden_size": meta[a + "embedding_length"], "intermediate_size": meta[a + "feed_forward_length"],
           "num_hidden_layers": meta[a + "block_count"], "num_attention_heads": meta[a + "attention.head_count"],
           "num_key_value_heads": meta.get(a + "attention.head_count_kv", meta[a + "attention.head_count"]),
           "rms_norm_eps": meta[a + "attention.layer_norm_rms_epsilon"],
           "rope_theta": meta.get(a + "rope.freq_base", 10000.0),
           "hidden_act": "silu" if arch == "bitnet" else "relu2", "tie_word_embeddings": "output.weight" not in tensors}
    names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
             "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "attn_sub_norm": "self_attn.attn_sub_norm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
             "ffn_sub_norm": "mlp.ffn_sub_norm"}
    W = {}
    for name, (type_id, ne, raw) in tensors.items():
        n_in, n_out = int(ne[0]), int(ne[1]) if len(ne) > 1 else 1
        if type_id == gguf.I2_S:
            v = decode_i2s(raw, n_out, n_in)
        elif type_id == gguf.F32:
            v = np.frombuffer(bytes(raw), "<f4").astype(np.float64).reshape(n_out, n_in) if len(ne) > 1 else \
                np.frombuffer(bytes(raw), "<f4").astype(np.float64)
        else:
            raise ValueError("%s: tensor %s has type %d" % (path, name, type_id))
        if name.startswith("blk."):
            _, b, kind, _ = name.split(".")
            if kind == "attn_q":
                v = unpermute_rows(v, cfg["num_attention_heads"])
            if kind == "attn_k":
                v = unpermute_rows(v, cfg["num_key_value_heads"])
            W["model.layers.%s.%s.weight" % (b, names[kind])] = v
        else:
            W[{"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
               "output.weight": "lm_head.weight"}[name]] = v
    return make_model(cfg, arch, W, ("self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight"))


def int8_linear(x, w):
    a = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), 1e-5)
    xq = np.clip(np.round(x * 127.0 / a), -128, 127)
    return (xq @ w.T) * a / 127.0


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy reference forward of ternary checkpoint formats")
    ap.add_argument("path")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--act", default="int8", choices=["int8", "float"])
    ap.add_argument("--greedy", type=int, default=0)
    a = ap.parse_args(argv)
    model = load_hf_folder(a.path) if os.path.isdir(a.path) else load_i2s_gguf(a.path)
    model["linear"] = int8_linear if a.act == "int8" else hf_forward.plain_linear
    toks = [int(t) for t in a.tokens.split(",") if t.strip()]
    hf_forward.forward(model, toks).astype("<f4").tofile(a.out)
    if a.greedy:
        seq = list(toks)
        for _ in range(a.greedy):
            seq.append(int(np.argmax(hf_forward.forward(model, seq)[-1])))
        print(",".join(str(t) for t in seq[len(toks):]))


if __name__ == "__main__":
    main()
