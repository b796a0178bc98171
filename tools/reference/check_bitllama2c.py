#!/usr/bin/python3
"""Checks a converted bitllama2.c checkpoint weight by weight against the source .bin.

Usage:
    /usr/bin/python3 tools/reference/check_bitllama2c.py SOURCE.bin CONVERTED.gguf

Decodes the bitllama2.c file independently of tern (numpy only), reads the GGUF with
gguf.py, and checks:
  * every ternary code of every block matrix is equal (wq -> attn_q, wk -> attn_k,
    wv -> attn_v, wo -> attn_output, w1 -> ffn_gate, w2 -> ffn_down, w3 -> ffn_up);
  * each row's scale equals float32(scale_src / n_in) (the 1/n of bitllama2.c's
    x / (n * rms) input normalisation folded into the scale): exactly for TERN2, to f16
    rounding for TQ1_0/TQ2_0;
  * token_embd and output_norm equal the source floats bit for bit;
  * the hyperparameters (dim, ffn, blocks, heads, KV heads, vocab, context) agree.
Prints one summary line and exits 0 on success; exits 1 with the first mismatch otherwise.

Source layout: 256-byte header (u32 magic 0x616b3432, i32 version 1, i32 dim, hidden_dim,
n_layers, n_heads, n_kv_heads, vocab_size, seq_len, u8 shared classifier flag, zero
padding); f32 final norm [dim]; f32 embedding [vocab, dim]; then for each of wq, wk, wv,
wo, w1, w2, w3 and, within that, each layer: one f32 scale, then rows*cols 2-bit codes
row-major [out x in], the first weight of a byte in bits 7..6; 00 = 0, 01 = +1, 11 = -1
(10 is invalid).
"""

import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

MAGIC = 0x616B3432
HEADER = 256


def decode_bin(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) < HEADER:
        raise ValueError("%s: shorter than the header" % path)
    magic, version = struct.unpack_from("<Ii", raw.tobytes(), 0)
    if magic != MAGIC or version != 1:
        raise ValueError("%s: magic %#x version %d" % (path, magic, version))
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq = struct.unpack_from("<7i", raw.tobytes(), 8)
    shared = raw[36]
    hd = dim // n_heads
    kv_dim = n_kv * hd
    pos = HEADER

    def floats(n):
        nonlocal pos
        v = raw[pos:pos + 4 * n].view("<f4").copy()
        if len(v) != n:
            raise ValueError("%s: truncated" % path)
        pos += 4 * n
        return v

    norm = floats(dim)
    embd = floats(vocab * dim).reshape(vocab, dim)
    shapes = {"wq": (dim, dim), "wk": (kv_dim, dim), "wv": (kv_dim, dim), "wo": (dim, dim),
              "w1": (hidden, dim), "w2": (dim, hidden), "w3": (hidden, dim)}
    mats = {}
    for name in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
        rows, cols = shapes[name]
        for layer in range(n_layers):
            scale = floats(1)[0]
            nbytes = rows * cols // 4
            b = raw[pos:pos + nbytes]
            if len(b) != nbytes:
                raise ValueError("%s: truncated in %s of layer %d" % (path, name, layer))
            pos += nbytes
            # first weight of a byte in bits 7..6
            c = np.stack([(b >> s) & 3 for s in (6, 4, 2, 0)], axis=-1).reshape(rows, cols)
            if np.any(c == 2):
                raise ValueError("%s: invalid code 10 in %s of layer %d" % (path, name, layer))
            codes = np.where(c == 1, 1, np.where(c == 3, -1, 0)).astype(np.int8)
            mats[(name, layer)] = (codes, np.float32(scale))
    if pos != len(raw):
        raise ValueError("%s: %d trailing bytes" % (path, len(raw) - pos))
    hp = dict(dim=dim, ffn=hidden, blocks=n_layers, heads=n_heads, kv_heads=n_kv, vocab=vocab,
              context=seq, shared=int(shared))
    return hp, norm, embd, mats


TENSOR = {"wq": "attn_q", "wk": "attn_k", "wv": "attn_v", "wo": "attn_output",
          "w1": "ffn_gate", "w2": "ffn_down", "w3": "ffn_up"}


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    src, conv = argv
    hp, norm, embd, mats = decode_bin(src)
    meta, tensors = gguf.read_gguf(conv)
    arch = meta["general.architecture"]
    errors = []

    def check(cond, msg):
        if not cond:
            errors.append(msg)

    want = {"embedding_length": hp["dim"], "feed_forward_length": hp["ffn"],
            "block_count": hp["blocks"], "attention.head_count": hp["heads"],
            "attention.head_count_kv": hp["kv_heads"], "context_length": hp["context"]}
    for k, v in want.items():
        got = meta.get(arch + "." + k)
        check(got == v, "%s.%s = %r, source has %r" % (arch, k, got, v))
    check(len(meta.get("tokenizer.ggml.tokens", [])) == hp["vocab"], "vocabulary size differs")

    t, ne, rawt = tensors["token_embd.weight"]
    ok = t == gguf.F32 and list(ne) == [hp["dim"], hp["vocab"]]
    check(ok, "token_embd type/shape %r %r" % (t, list(ne)))
    if ok:
        e = np.frombuffer(bytes(rawt), dtype="<u4").reshape(hp["vocab"], hp["dim"])
        check(np.array_equal(e, embd.view("<u4")), "token_embd differs from the source embedding")
    t, ne, rawt = tensors["output_norm.weight"]
    ok = t == gguf.F32 and list(ne) == [hp["dim"]]
    check(ok, "output_norm type/shape %r %r" % (t, list(ne)))
    if ok:
        check(np.array_equal(np.frombuffer(bytes(rawt), dtype="<u4"), norm.view("<u4")),
              "output_norm differs from the source final norm")
    check("output.weight" not in tensors, "output.weight present, the source ties the classifier")

    n_codes = 0
    worst_scale = 0.0
    for (name, layer), (codes, scale) in mats.items():
        tname = "blk.%d.%s.weight" % (layer, TENSOR[name])
        if tname not in tensors:
            errors.append("missing " + tname)
            continue
        t, ne, rawt = tensors[tname]
        rows, cols = codes.shape
        if list(ne) != [cols, rows]:
            errors.append("%s: ne %r, expected [%d, %d]" % (tname, list(ne), cols, rows))
            continue
        got_codes, got_scales = gguf.ternary_codes(t, ne, rawt)
        if not np.array_equal(got_codes, codes):
            bad = np.argwhere(got_codes != codes)[0]
            errors.append("%s: code at row %d col %d is %d, source %d" % (
                tname, bad[0], bad[1], got_codes[bad[0], bad[1]], codes[bad[0], bad[1]]))
        expected = np.float64(np.float32(np.float32(scale) / np.float32(cols)))
        rel = np.max(np.abs(got_scales.astype(np.float64) - expected)) / abs(expected)
        worst_scale = max(worst_scale, rel)
        # float32(scale_src / n_in) is one correctly rounded value, so TERN2 (an f32 scale)
        # must hold exactly it; TQ1_0/TQ2_0 store f16 (relative rounding error <= 2^-11).
        tol = 0.0 if t == gguf.TERN2 else 2 ** -11
        if rel > tol:
            errors.append("%s: scale %r, expected scale_src / n_in = %r (rel err %.3g)" % (
                tname, float(got_scales.flat[0]), float(expected), rel))
        n_codes += codes.size
    n_blk = sum(1 for n in tensors if n.startswith("blk."))
    check(n_blk == len(mats), "%d block tensors, source has %d matrices" % (n_blk, len(mats)))

    if errors:
        for e in errors[:20]:
            sys.stderr.write("check_bitllama2c: " + e + "\n")
        sys.exit(1)
    print("check_bitllama2c: OK: %d matrices, %d ternary codes equal, max scale rel err %.3g, "
          "embedding and norm exact" % (len(mats), n_codes, worst_scale))


if __name__ == "__main__":
    main(sys.argv[1:])
