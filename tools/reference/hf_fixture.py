#!/usr/bin/python3
"""Writes a tiny Hugging Face style checkpoint folder (config.json + safetensors) for tests.

Usage:
    /usr/bin/python3 tools/reference/hf_fixture.py --kind llama|mobilellm|bitnet|bitnet2b
        --out DIR [--seed 0] [--shards 1] [--dtype f32|f16|bf16] [--tokenizer PATH.model|PATH.json]
        [--latent] [--chat-template NAME]

Writes DIR/config.json, DIR/model.safetensors (or, with --shards N > 1,
DIR/model-0000i-of-0000N.safetensors plus DIR/model.safetensors.index.json) and copies
the SentencePiece model (default /work/shared/models/tok512.model) to DIR/tokenizer.model.
vocab_size is the number of pieces in that tokenizer (512 for the default). A Hugging
Face tokenizer.json is copied to DIR/tokenizer.json instead (vocab_size: its highest id
+ 1); --chat-template NAME (a template of chat_templates.py) writes
DIR/tokenizer_config.json with that template.

Numpy only; safetensors is written by hand (8-byte LE header length, JSON header padded
with spaces to a multiple of 8, then the raw little-endian tensor data).

Block linears (q/k/v/o, gate/up/down) of every kind are generated as W = scale * T with
T in {-1, 0, 1}: a random permutation with exactly floor(0.3 * n) zeros and random signs
elsewhere, and scale ~ 1/sqrt(0.7 * in) rounded to a bf16-representable value (so W is
stored exactly in every --dtype). Absmean ternarization (s' = mean|W| = scale * p with
p = nonzero fraction ~ 0.7, T' = clip(rint(W / s'), -1, 1)) recovers T exactly because
|W| / s' = 1 / p ~ 1.43 lies in [0.5, 1.5); this is asserted on the stored values.
Note s' != scale: a BitLinear reproduces s' * T, not W. For llama/mobilellm the same
ternary weights are used so that a ternary conversion is lossless (tern detects the exact
ternary matrices and keeps scale * T); --latent multiplies every weight by 1 + U(-0.05, 0.05)
so they are not exact and tern ternarizes them by absmean (post-training quantization).
Embeddings, lm_head: random normal; norm weights: 1 + small noise.
Prints one summary line to stderr and nothing else.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

DEFAULT_TOKENIZER = "/work/shared/models/tok512.model"
ZERO_FRACTION = 0.3
LATENT_NOISE = 0.05  # --latent: each weight times 1 + U(-0.05, 0.05)

KINDS = {
    "llama": dict(
        config={
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "rope_scaling": None,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        sub_norms=None,
    ),
    "mobilellm": dict(
        config={
            "architectures": ["MobileLLMForCausalLM"],
            "model_type": "mobilellm",
            "hidden_size": 72,
            "intermediate_size": 192,
            "num_hidden_layers": 3,
            "num_attention_heads": 6,
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "share_embedding": True,
            "layer_sharing": True,
            "layer_sharing_repeat": 2,
            "tie_word_embeddings": True,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "rope_scaling": None,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        sub_norms=None,
    ),
    "bitnet": dict(
        config={
            "architectures": ["BitnetForCausalLM"],
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
            "input_bits": 8,
            "weight_bits": 1,
            "attention_bias": False,
            "rope_scaling": None,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        sub_norms=("self_attn.inner_attn_ln.weight", "mlp.ffn_layernorm.weight"),
    ),
    "bitnet2b": dict(
        config={
            "architectures": ["BitNetForCausalLM"],
            "model_type": "bitnet",
            "hidden_size": 64,
            "intermediate_size": 160,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0,
            "tie_word_embeddings": False,
            "hidden_act": "relu2",
            "attention_bias": False,
            "rope_scaling": None,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        sub_norms=("self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight"),
    ),
}

TORCH_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


# ---------------------------------------------------------------- float conversion

def f32_to_bf16_bits(x):
    """float32 array -> uint16 bf16 bits, round to nearest even (finite inputs)."""
    b = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype("<u2")


def bf16_bits_to_f32(u):
    return (np.asarray(u, dtype="<u2").astype("<u4") << 16).view("<f4")


def encode(x, dtype):
    """float array -> (bytes, values actually stored as float64)."""
    x32 = np.asarray(x, dtype=np.float64).astype("<f4")
    if dtype == "f32":
        return x32.tobytes(), x32.astype(np.float64)
    if dtype == "f16":
        h = x32.astype("<f2")
        return h.tobytes(), h.astype(np.float64)
    if dtype == "bf16":
        u = f32_to_bf16_bits(x32)
        return u.tobytes(), bf16_bits_to_f32(u).astype(np.float64)
    raise ValueError(dtype)


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: list of (name, float array). Returns total data bytes."""
    header = {}
    blobs = []
    off = 0
    for name, arr in tensors:
        raw, _ = encode(arr, dtype)
        header[name] = {"dtype": ST_DTYPE[dtype], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)
    with open(path, "wb") as f:
        f.write(len(hj).to_bytes(8, "little"))
        f.write(hj)
        for b in blobs:
            f.write(b)
    return off


# ---------------------------------------------------------------- tokenizer

def count_json_ids(path):
    """Vocabulary size of a Hugging Face tokenizer.json: highest id (model or added) + 1."""
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    ids = list(j["model"]["vocab"].values()) + [t["id"] for t in j.get("added_tokens", [])]
    return max(ids) + 1


def count_spm_pieces(path):
    """Counts the repeated field 1 (pieces) of a sentencepiece ModelProto."""
    data = open(path, "rb").read()
    i, n = 0, 0

    def varint(i):
        v, s = 0, 0
        while True:
            c = data[i]
            i += 1
            v |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return v, i

    while i < len(data):
        key, i = varint(i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            _, i = varint(i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            ln, i = varint(i)
            i += ln
        elif wt == 5:
            i += 4
        else:
            raise ValueError("unsupported protobuf wire type %d in %s" % (wt, path))
        if field == 1 and wt == 2:
            n += 1
    return n


# ---------------------------------------------------------------- generation

def bf16_exact(v):
    return float(bf16_bits_to_f32(f32_to_bf16_bits(np.array([v], np.float32)))[0])


def ternary_linear(rng, out_f, in_f, dtype, latent=False):
    n = out_f * in_f
    nz = int(np.floor(ZERO_FRACTION * n))
    t = rng.choice(np.array([-1, 1], dtype=np.int8), size=n)
    t[rng.permutation(n)[:nz]] = 0
    t = t.reshape(out_f, in_f)
    scale = bf16_exact(1.0 / np.sqrt((1.0 - ZERO_FRACTION) * in_f) * rng.uniform(0.8, 1.25))
    w = (scale * t.astype(np.float64)).astype(np.float32)
    if latent:  # full-precision weights near the ternary ones: not exact ternary
        w = (w * (1.0 + LATENT_NOISE * rng.uniform(-1, 1, size=w.shape))).astype(np.float32)
    # ternary recovery on the values as actually stored
    _, stored = encode(w, dtype)
    s = max(np.mean(np.abs(stored)), 1e-5)
    t2 = np.clip(np.rint(stored / s), -1, 1).astype(np.int8)
    assert np.array_equal(t2, t), "absmean ternarization does not recover T"
    assert latent or np.all(stored == scale * t), "ternary weights not stored exactly"
    return w


def build(kind, seed, dtype, vocab, latent=False):
    spec = KINDS[kind]
    cfg = dict(spec["config"])
    cfg["vocab_size"] = vocab
    cfg["torch_dtype"] = TORCH_DTYPE[dtype]
    rng = np.random.default_rng(seed)
    H = cfg["hidden_size"]
    F = cfg["intermediate_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    hd = H // nh
    assert hd * nh == H and hd % 2 == 0 and nh % nkv == 0

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    T = []
    T.append(("model.embed_tokens.weight",
              (0.5 * rng.standard_normal((vocab, H))).astype(np.float32)))
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        T.append((p + "input_layernorm.weight", norm(H)))
        T.append((p + "self_attn.q_proj.weight", ternary_linear(rng, nh * hd, H, dtype, latent)))
        T.append((p + "self_attn.k_proj.weight", ternary_linear(rng, nkv * hd, H, dtype, latent)))
        T.append((p + "self_attn.v_proj.weight", ternary_linear(rng, nkv * hd, H, dtype, latent)))
        if spec["sub_norms"]:
            T.append((p + spec["sub_norms"][0], norm(nh * hd)))
        T.append((p + "self_attn.o_proj.weight", ternary_linear(rng, H, nh * hd, dtype, latent)))
        T.append((p + "post_attention_layernorm.weight", norm(H)))
        T.append((p + "mlp.gate_proj.weight", ternary_linear(rng, F, H, dtype, latent)))
        T.append((p + "mlp.up_proj.weight", ternary_linear(rng, F, H, dtype, latent)))
        if spec["sub_norms"]:
            T.append((p + spec["sub_norms"][1], norm(F)))
        T.append((p + "mlp.down_proj.weight", ternary_linear(rng, H, F, dtype, latent)))
    T.append(("model.norm.weight", norm(H)))
    if not cfg["tie_word_embeddings"]:
        T.append(("lm_head.weight",
                  (rng.standard_normal((vocab, H)) / np.sqrt(H) * 4.0).astype(np.float32)))
    return cfg, T


def split_shards(tensors, n):
    """Contiguous split into n non-empty shards of roughly equal byte size."""
    n = max(1, min(n, len(tensors)))
    sizes = [a.size for _, a in tensors]
    total = float(sum(sizes))
    shards, cur, acc = [], [], 0
    for idx, (t, sz) in enumerate(zip(tensors, sizes)):
        left = len(tensors) - idx          # tensors not yet placed, this one included
        need = n - len(shards) - 1         # shards still to open after the current one
        if cur and (left <= need or (need > 0 and acc >= total * (len(shards) + 1) / n)):
            shards.append(cur)
            cur = []
        cur.append(t)
        acc += sz
    shards.append(cur)
    assert len(shards) == n and all(shards)
    return shards


def main(argv=None):
    ap = argparse.ArgumentParser(description="tiny Hugging Face style checkpoint fixture")
    ap.add_argument("--kind", required=True, choices=sorted(KINDS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--latent", action="store_true",
                    help="perturb the block linears by up to 5%% so they are full precision, not exact "
                         "ternary (absmean still recovers the same trits)")
    ap.add_argument("--chat-template", default=None)
    a = ap.parse_args(argv)

    hf_json = a.tokenizer.endswith(".json")
    vocab = count_json_ids(a.tokenizer) if hf_json else count_spm_pieces(a.tokenizer)
    cfg, tensors = build(a.kind, a.seed, a.dtype, vocab, a.latent)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    shutil.copyfile(a.tokenizer, os.path.join(a.out, "tokenizer.json" if hf_json else "tokenizer.model"))
    if a.chat_template:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import chat_templates
        with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
            json.dump({"chat_template": chat_templates.TEMPLATES[a.chat_template]}, f, indent=2)

    meta = {"format": "pt"}
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, a.dtype, meta)
        nfiles = 1
    else:
        shards = split_shards(tensors, a.shards)
        nfiles = len(shards)
        weight_map, total = {}, 0
        for k, sh in enumerate(shards):
            fn = "model-%05d-of-%05d.safetensors" % (k + 1, nfiles)
            total += write_safetensors(os.path.join(a.out, fn), sh, a.dtype, meta)
            for name, _ in sh:
                weight_map[name] = fn
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f,
                      indent=2)
            f.write("\n")
    nparams = sum(t.size for _, t in tensors)
    sys.stderr.write("hf_fixture: %s -> %s (%d tensors, %d params, %s, %d file%s, vocab %d)\n"
                     % (a.kind, a.out, len(tensors), nparams, a.dtype, nfiles,
                        "" if nfiles == 1 else "s", vocab))


if __name__ == "__main__":
    main()
