#!/usr/bin/python3
"""Checks of the Python reference itself (no C++ involved).

Usage: /usr/bin/python3 tools/reference/selftest.py   (exit 0 and a one-line summary on success)

The hand-built blocks below are written from FORMAT.md's prose, independently of the
encoders in gguf.py, so an encoder and decoder sharing one misreading of the spec would
still be caught.
"""

import contextlib
import io
import math
import os
import shutil
import struct
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import forward as ref  # noqa: E402
import gguf  # noqa: E402
import make_random_model  # noqa: E402
import spm  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tern-ref-selftest-")
STORIES = os.path.join(HERE, "..", "..", "..", "shared", "models", "stories260K.gguf")


def tmp(name):
    return os.path.join(TMP, name)


def f16(x):
    return struct.pack("<e", x)


# ----------------------------------------------------------------------------- codecs

def test_float_types():
    x = np.array([0.0, -1.5, 3.25, 1e-3, 65504.0, -2.0 ** -14], dtype=np.float32)
    assert np.array_equal(gguf.dequantize(gguf.F32, [6], x.tobytes()), x)
    assert np.array_equal(gguf.dequantize(gguf.F16, [3, 2], gguf.f32_to_f16_bytes(x)),
                          x.astype(np.float16).astype(np.float32).reshape(2, 3))
    assert gguf.f32_to_f16_bytes(np.float32(1.0)) == b"\x00\x3c"
    # BF16 = upper 16 bits of binary32: 1.0 = 0x3F800000 -> 0x3F80, stored little-endian.
    assert gguf.f32_to_bf16_bytes(np.float32(1.0)) == b"\x80\x3f"
    assert gguf.dequantize(gguf.BF16, [1], b"\xc0\x3f")[0] == 1.5
    exact = np.array([1.0, -2.5, 0.15625, 3.0e38], dtype=np.float32)
    exact = (exact.view(np.uint32) & 0xFFFF0000).view(np.float32)
    assert np.array_equal(gguf.dequantize(gguf.BF16, [4], gguf.f32_to_bf16_bytes(exact)), exact)
    # round to nearest even on the dropped half: 1 + 2^-8 is a tie -> 1.0
    assert gguf.dequantize(gguf.BF16, [1], gguf.f32_to_bf16_bytes(np.float32(1 + 2 ** -8)))[0] == 1.0


def test_q8_0():
    # Hand-built block: d = 0.5, q = -16..15
    q = np.arange(-16, 16, dtype=np.int8)
    raw = f16(0.5) + q.tobytes()
    assert np.array_equal(gguf.dequantize(gguf.Q8_0, [32], raw), 0.5 * q.astype(np.float32))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    enc = gguf.quantize_q8_0(x)
    assert len(enc) == 3 * 2 * 34
    y = gguf.dequantize(gguf.Q8_0, [64, 3], enc)
    d = np.abs(x.reshape(-1, 32)).max(1) / 127
    # error <= d/2 from rounding q, plus 127 * |d - f16(d)| <= 127 * d * 2^-11 from storing d as f16
    assert np.all(np.abs((y - x).reshape(-1, 32)) <= d[:, None] * (0.5 + 127 * 2.0 ** -11) + 1e-7)
    assert gguf.quantize_q8_0(y) == enc  # decoding then re-encoding is a fixed point


def test_tq1_0_byte_packing():
    assert gguf.pack_trits5((2, 0, 1, 1, 2)) == math.ceil((2 * 81 + 0 * 27 + 1 * 9 + 1 * 3 + 2) * 256 / 243)
    assert gguf.pack_trits5((2, 0, 1, 1, 2)) == 186  # ceil(176 * 256 / 243)
    for v in range(243):
        trits = [(v // 3 ** (4 - n)) % 3 for n in range(5)]
        byte = math.ceil(v * 256 / 243)
        assert gguf.pack_trits5(trits) == byte
        # the spec's read-back: ((u8)(byte * 3^n) * 3) >> 8
        assert [(((byte * 3 ** n) % 256) * 3) >> 8 for n in range(5)] == trits


def hand_tq1_0_block(x, d):
    """A TQ1_0 block from FORMAT.md 2.1's text, with math.ceil and explicit indices."""
    t = [int(v) + 1 for v in x]

    def byte(trits):
        v = sum(tr * 3 ** (4 - n) for n, tr in enumerate(trits))
        return math.ceil(v * 256 / 243)

    qs = [byte([t[m + 32 * n] for n in range(5)]) for m in range(32)]
    qs += [byte([t[160 + m + 16 * n] for n in range(5)]) for m in range(16)]
    qh = [byte([t[240 + j + 4 * n] for n in range(4)] + [0]) for j in range(4)]
    return bytes(qs + qh) + f16(d)


def test_tq1_0():
    rng = np.random.default_rng(2)
    x = rng.integers(-1, 2, 256)
    raw = hand_tq1_0_block(x, 0.25)
    assert len(raw) == 54
    assert np.array_equal(gguf.dequantize(gguf.TQ1_0, [256], raw), 0.25 * x.astype(np.float32))
    assert gguf.quantize_tq1_0(x[None, :], [0.25]) == raw
    # weight 0 is trit 0 of qs[0]; weight 32 trit 1 of qs[0]; weight 255 trit 3 of qh[3]
    x2 = np.zeros(256, dtype=np.int8)
    x2[0], x2[32], x2[255] = 1, -1, 1
    raw2 = gguf.quantize_tq1_0(x2[None, :], [1.0])
    assert raw2[0] == math.ceil((2 * 81 + 0 * 27 + 1 * 9 + 1 * 3 + 1) * 256 / 243)
    assert raw2[51] == math.ceil((1 * 81 + 1 * 27 + 1 * 9 + 2 * 3 + 0) * 256 / 243)
    # multi-row, multi-block round trip of codes and per-block d
    codes = rng.integers(-1, 2, (3, 512)).astype(np.int8)
    d = np.array([[0.5, 0.25], [1.0, 2.0], [0.125, 4.0]], dtype=np.float32)
    c, s = gguf.ternary_codes(gguf.TQ1_0, [512, 3], gguf.quantize_tq1_0(codes, d))
    assert np.array_equal(c, codes) and np.array_equal(s, d) and s.shape == (3, 2)


def test_tq2_0():
    rng = np.random.default_rng(3)
    x = rng.integers(-1, 2, 256)
    qs = bytearray(64)
    for h in range(2):
        for m in range(32):
            for n in range(4):
                qs[32 * h + m] |= (int(x[128 * h + m + 32 * n]) + 1) << (2 * n)
    raw = bytes(qs) + f16(-0.5)
    assert np.array_equal(gguf.dequantize(gguf.TQ2_0, [256], raw), -0.5 * x.astype(np.float32))
    assert gguf.quantize_tq2_0(x[None, :], [-0.5]) == raw
    # byte 0 = 0b10_01_00_10: x[0] = +1, x[32] = -1, x[64] = 0, x[96] = +1
    blk = bytes([0b10010010]) + bytes([0x55] * 63) + f16(1.0)
    w = gguf.dequantize(gguf.TQ2_0, [256], blk)
    assert (w[0], w[32], w[64], w[96]) == (1, -1, 0, 1) and np.count_nonzero(w) == 3
    codes = rng.integers(-1, 2, (2, 768)).astype(np.int8)
    d = rng.uniform(0.1, 1, (2, 3)).astype(np.float16).astype(np.float32)
    c, s = gguf.ternary_codes(gguf.TQ2_0, [768, 2], gguf.quantize_tq2_0(codes, d))
    assert np.array_equal(c, codes) and np.array_equal(s, d)


def test_tern2():
    # Hand-built: row [+1, -1, 0, +1, -1] -> codes 2,0,1,2 | 0,(1,1,1 padding)
    raw = gguf.pack_tern2(np.array([[1, -1, 0, 1, -1]]), 0.75)
    assert raw == bytes([2 | 0 << 2 | 1 << 4 | 2 << 6, 0 | 1 << 2 | 1 << 4 | 1 << 6]) + struct.pack("<f", 0.75)
    assert np.array_equal(gguf.dequantize(gguf.TERN2, [5, 1], raw), [[0.75, -0.75, 0, 0.75, -0.75]])
    rng = np.random.default_rng(4)
    for n_in in list(range(1, 10)) + [13, 66, 102]:
        codes = rng.integers(-1, 2, (3, n_in)).astype(np.int8)
        raw = gguf.pack_tern2(codes, 0.1)
        assert len(raw) == gguf.tensor_nbytes(gguf.TERN2, [n_in, 3]) == 3 * ((n_in + 3) // 4) + 4
        c, s = gguf.ternary_codes(gguf.TERN2, [n_in, 3], raw)
        assert np.array_equal(c, codes) and s.shape == (3, 1) and np.all(s == np.float32(0.1))
        last = raw[(n_in + 3) // 4 - 1]
        for k in range(n_in % 4 or 4, 4):  # unused trailing codes are 1
            assert (last >> (2 * k)) & 3 == 1


# ----------------------------------------------------------------------------- container

def all_metadata(w):
    """Adds one key of every value type; returns the expected {key: (type, value)}."""
    items = {
        "t.u8": (gguf.U8, 255), "t.i8": (gguf.I8, -128), "t.u16": (gguf.U16, 65535),
        "t.i16": (gguf.I16, -32768), "t.u32": (gguf.U32, 4294967295), "t.i32": (gguf.I32, -2 ** 31),
        "t.f32": (gguf.F32_V, 1.25), "t.bool.t": (gguf.BOOL, True), "t.bool.f": (gguf.BOOL, False),
        "t.str": (gguf.STRING, "h\u00e9llo \u2581world"), "t.empty": (gguf.STRING, ""),
        "t.u64": (gguf.U64, 2 ** 64 - 1), "t.i64": (gguf.I64, -2 ** 63), "t.f64": (gguf.F64, math.pi),
        "t.arr.i32": ((gguf.ARRAY, gguf.I32), [1, -2, 3]),
        "t.arr.str": ((gguf.ARRAY, gguf.STRING), ["<s>", "", "\u2581a"]),
        "t.arr.f32": ((gguf.ARRAY, gguf.F32_V), [0.5, -0.25]),
        "t.arr.bool": ((gguf.ARRAY, gguf.BOOL), [True, False]),
        "t.arr.empty": ((gguf.ARRAY, gguf.U8), []),
        "t.arr.nested": ((gguf.ARRAY, (gguf.ARRAY, gguf.U16)), [[1, 2], [], [3]]),
    }
    for key, (vtype, value) in items.items():
        w.add(key, vtype, value)
    return items


def test_container_round_trip():
    for alignment in (32, 64):
        w = gguf.GGUFWriter(alignment=alignment, write_alignment_key=True)
        items = all_metadata(w)
        tensors = {
            "a": (gguf.F32, [3], np.arange(3, dtype="<f4").tobytes()),
            "b": (gguf.TERN2, [5, 2], gguf.pack_tern2(np.ones((2, 5), np.int8), 1.0)),
            "c": (gguf.Q8_0, [32, 2, 1], gguf.quantize_q8_0(np.ones((2, 32)))),
        }
        for name, (t, ne, raw) in tensors.items():
            w.add_tensor(name, t, ne, raw)
        path = tmp(f"meta{alignment}.gguf")
        w.write(path)
        f = gguf.read_gguf_full(path)
        assert f["alignment"] == alignment and f["data_start"] % alignment == 0
        for key, (vtype, value) in items.items():
            assert f["types"][key] == vtype, key
            assert f["metadata"][key] == value, key
        assert f["metadata"]["general.alignment"] == alignment
        assert list(f["tensors"]) == list(tensors)
        for name, (t, ne, raw) in tensors.items():
            t2, ne2, raw2 = f["tensors"][name]
            assert (t2, ne2, bytes(raw2)) == (t, ne, raw)
            assert (raw2.ctypes.data - f["tensors"]["a"][2].ctypes.data) % alignment == 0
        assert os.path.getsize(path) % alignment == 0
    # default: no alignment key at all, 32 assumed
    w = gguf.GGUFWriter()
    w.add_tensor("x", gguf.F16, [1], gguf.f32_to_f16_bytes(np.float32(2.0)))
    w.write(tmp("noalign.gguf"))
    meta, tens = gguf.read_gguf(tmp("noalign.gguf"))
    assert meta == {} and gguf.dequantize(*tens["x"])[0] == 2.0


# ----------------------------------------------------------------------------- ternary linear

def naive_ternary(x, codes, scales, block):
    """The spec's formula with Python ints and loops."""
    a = max(abs(v) for v in x)
    if a == 0:
        return [0.0] * len(codes)
    q = [int(np.rint(v * 127 / a)) for v in x]
    out = []
    for j, row in enumerate(codes):
        total = 0.0
        for b in range(len(row) // block):
            acc = 0
            for i in range(b * block, (b + 1) * block):
                if row[i] == 1:
                    acc += q[i]
                elif row[i] == -1:
                    acc -= q[i]
            total += float(scales[j][b]) * acc
        out.append(total * a / 127)
    return out


def test_ternary_linear():
    # ties round half to even: x*127/a = 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2
    q, a = ref.quantize_activations(np.array([[127.0, 0.5, 1.5, 2.5, -0.5, -2.5, -127.0]]))
    assert q.tolist() == [[127, 0, 2, 2, 0, -2, -127]] and a[0] == 127
    rng = np.random.default_rng(5)
    for n_in, n_blocks in ((13, 1), (512, 2), (768, 3)):
        codes = rng.integers(-1, 2, (5, n_in)).astype(np.int8)
        scales = rng.uniform(0.05, 0.2, (5, n_blocks))
        lin = ref.TernaryLinear(codes, scales)
        x = rng.standard_normal((2, n_in))
        y = lin(x)
        for t in range(2):
            assert np.allclose(y[t], naive_ternary(x[t].tolist(), codes.tolist(), scales, n_in // n_blocks),
                               rtol=1e-12, atol=1e-12)
        assert np.array_equal(lin(np.zeros((1, n_in))), np.zeros((1, 5)))
    # linear_norm: the weightless RMSNorm happens before quantization
    codes = rng.integers(-1, 2, (4, 10)).astype(np.int8)
    x = rng.standard_normal((1, 10)) * 3
    xn = x / np.sqrt(np.mean(x * x) + 1e-6)
    got = ref.TernaryLinear(codes, np.full((4, 1), 0.1), True, 1e-6)(x)
    assert np.allclose(got, ref.TernaryLinear(codes, np.full((4, 1), 0.1))(xn), rtol=1e-13)


# ----------------------------------------------------------------------------- models

def random_model(path, argv):
    make_random_model.build(make_random_model.parse_args(["--out", path] + argv)).write(path)
    return ref.load_model(path)


def unroll(path, out_path):
    """Rewrites a block_repeat r model as r=1 with each block written out r times."""
    f = gguf.read_gguf_full(path)
    meta, types, tensors = f["metadata"], f["types"], f["tensors"]
    r, n = meta.get("mobilellm.block_repeat", 1), meta["mobilellm.block_count"]
    w = gguf.GGUFWriter()
    for key, value in meta.items():
        if key == "mobilellm.block_repeat":
            value = 1
        elif key == "mobilellm.block_count":
            value = n * r
        w.add(key, types[key], value)
    for name, (t, ne, raw) in tensors.items():
        if not name.startswith("blk."):
            w.add_tensor(name, t, ne, raw)
    for layer in range(n * r):
        prefix = f"blk.{layer // r}."
        for name, (t, ne, raw) in tensors.items():
            if name.startswith(prefix):
                w.add_tensor(f"blk.{layer}." + name[len(prefix):], t, ne, raw)
    w.write(out_path)


def test_block_repeat_equals_unrolled():
    tokens = [1, 7, 42, 250, 3, 3, 99]
    for argv in (["--repeat", "2"],
                 ["--repeat", "3", "--blocks", "2", "--sub-norms", "--linear-norm", "--act", "relu2",
                  "--dim", "72", "--ffn", "102", "--untied", "--embd-type", "bf16"],
                 ["--repeat", "2", "--ternary-type", "tq1_0", "--no-block-norms", "--sub-norms",
                  "--embd-type", "q8_0"]):
        shared = random_model(tmp("shared.gguf"), argv)
        assert shared.repeat > 1
        unroll(tmp("shared.gguf"), tmp("unrolled.gguf"))
        flat = ref.load_model(tmp("unrolled.gguf"))
        assert flat.repeat == 1 and flat.n_blocks == shared.n_blocks * shared.repeat
        a, b = ref.forward(shared, tokens), ref.forward(flat, tokens)
        assert np.array_equal(a, b), argv
        assert np.all(np.isfinite(a)) and a.std() > 0.5, "logits should be O(1), not degenerate"


def test_causal_prefix():
    """Logits at position p depend only on tokens 0..p (equal to KV-cache decoding)."""
    for argv in (["--ternary-type", "tq2_0"], ["--dim", "66", "--heads", "3", "--kv-heads", "1",
                                               "--ffn", "70", "--embd-type", "f16"]):
        m = random_model(tmp("causal.gguf"), argv)
        tokens = [1, 17, 200, 5, 64, 64]
        full = ref.forward(m, tokens)
        for k in range(1, len(tokens)):
            assert np.allclose(ref.forward(m, tokens[:k]), full[:k], rtol=1e-9, atol=1e-9)


def make_llama(path, rng, dim=16, n_heads=4, n_kv=2, ffn=24, vocab=40, n_blocks=2):
    """A tiny random float `llama` file (weights in F32, F16 and BF16)."""
    hd = dim // n_heads
    w = gguf.GGUFWriter()
    w.add_string("general.architecture", "llama")
    for key, v in (("context_length", 64), ("embedding_length", dim), ("feed_forward_length", ffn),
                   ("block_count", n_blocks), ("attention.head_count", n_heads),
                   ("attention.head_count_kv", n_kv)):
        w.add_u32("llama." + key, v)
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_f32("llama.rope.freq_base", 500.0)

    def mat(name, n_in, n_out, t=gguf.F32):
        x = (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        raw = x.tobytes() if t == gguf.F32 else (gguf.f32_to_f16_bytes(x) if t == gguf.F16 else gguf.f32_to_bf16_bytes(x))
        w.add_tensor(name, t, [n_in, n_out], raw)

    def vec(name):
        w.add_tensor(name, gguf.F32, [dim], (1 + 0.1 * rng.standard_normal(dim)).astype(np.float32).tobytes())

    w.add_tensor("token_embd.weight", gguf.F32, [dim, vocab], rng.standard_normal((vocab, dim)).astype(np.float32).tobytes())
    vec("output_norm.weight")
    mat("output.weight", dim, vocab, gguf.F16)
    for n in range(n_blocks):
        b = f"blk.{n}."
        vec(b + "attn_norm.weight")
        vec(b + "ffn_norm.weight")
        mat(b + "attn_q.weight", dim, n_heads * hd)
        mat(b + "attn_k.weight", dim, n_kv * hd, gguf.F16)
        mat(b + "attn_v.weight", dim, n_kv * hd, gguf.BF16)
        mat(b + "attn_output.weight", n_heads * hd, dim)
        mat(b + "ffn_gate.weight", dim, ffn)
        mat(b + "ffn_up.weight", dim, ffn, gguf.F16)
        mat(b + "ffn_down.weight", ffn, dim)
    w.write(path)


def naive_llama(path, tokens):
    """Direct scalar computation of FORMAT.md section 4 with Python floats and loops."""
    meta, t = gguf.read_gguf(path)
    W = {k: gguf.dequantize(*v).tolist() for k, v in t.items()}
    dim, ffn = meta["llama.embedding_length"], meta["llama.feed_forward_length"]
    nh, nkv = meta["llama.attention.head_count"], meta["llama.attention.head_count_kv"]
    eps, base, hd = meta["llama.attention.layer_norm_rms_epsilon"], meta["llama.rope.freq_base"], dim // nh

    def matvec(m, x):
        return [sum(r[i] * x[i] for i in range(len(x))) for r in m]

    def norm(x, w):
        s = math.sqrt(sum(v * v for v in x) / len(x) + eps)
        return [w[i] * x[i] / s for i in range(len(x))]

    def rot(v, p):
        out = list(v)
        for j in range(hd // 2):
            ang = p * base ** (-2 * j / hd)
            c, s = math.cos(ang), math.sin(ang)
            out[2 * j] = v[2 * j] * c - v[2 * j + 1] * s
            out[2 * j + 1] = v[2 * j] * s + v[2 * j + 1] * c
        return out

    cache = [([], []) for _ in range(meta["llama.block_count"])]
    logits = []
    for p, tok in enumerate(tokens):
        x = list(W["token_embd.weight"][tok])
        for l in range(meta["llama.block_count"]):
            b = f"blk.{l}."
            h = norm(x, W[b + "attn_norm.weight"])
            q, k, v = (matvec(W[b + n + ".weight"], h) for n in ("attn_q", "attn_k", "attn_v"))
            qh = [rot(q[i * hd:(i + 1) * hd], p) for i in range(nh)]
            cache[l][0].append([rot(k[g * hd:(g + 1) * hd], p) for g in range(nkv)])
            cache[l][1].append([v[g * hd:(g + 1) * hd] for g in range(nkv)])
            o = []
            for i in range(nh):
                g = i // (nh // nkv)
                s = [sum(qh[i][d] * cache[l][0][tt][g][d] for d in range(hd)) / math.sqrt(hd) for tt in range(p + 1)]
                mx = max(s)
                e = [math.exp(z - mx) for z in s]
                a = [z / sum(e) for z in e]
                o += [sum(a[tt] * cache[l][1][tt][g][d] for tt in range(p + 1)) for d in range(hd)]
            x = [xi + yi for xi, yi in zip(x, matvec(W[b + "attn_output.weight"], o))]
            h = norm(x, W[b + "ffn_norm.weight"])
            gate, up = matvec(W[b + "ffn_gate.weight"], h), matvec(W[b + "ffn_up.weight"], h)
            m = [gate[i] / (1 + math.exp(-gate[i])) * up[i] for i in range(ffn)]
            x = [xi + yi for xi, yi in zip(x, matvec(W[b + "ffn_down.weight"], m))]
        logits.append(matvec(W["output.weight"], norm(x, W["output_norm.weight"])))
    return np.array(logits)


def test_llama_naive():
    rng = np.random.default_rng(6)
    make_llama(tmp("llama.gguf"), rng)
    m = ref.load_model(tmp("llama.gguf"))
    assert m.head_dim == 4 and m.n_kv == 2 and m.rope_base == 500.0
    for tokens in ([3], [3, 17, 39]):
        assert np.allclose(ref.forward(m, tokens), naive_llama(tmp("llama.gguf"), tokens), rtol=1e-10, atol=1e-10)


def test_cli_and_generator():
    path = tmp("cli.gguf")
    random_model(path, ["--dim", "72", "--ffn", "100", "--untied", "--embd-type", "f16"])
    with contextlib.redirect_stderr(io.StringIO()):
        ref.main([path, "--tokens", "1,2,3,299", "--out", tmp("logits.bin")])
    got = np.fromfile(tmp("logits.bin"), dtype="<f4").reshape(4, 300)
    assert np.array_equal(got, ref.forward(ref.load_model(path), [1, 2, 3, 299]).astype(np.float32))
    meta, tensors = gguf.read_gguf(path)
    assert meta["tokenizer.ggml.token_type"][:4] == [2, 3, 3, 6] and len(meta["tokenizer.ggml.tokens"]) == 300
    assert len(set(meta["tokenizer.ggml.tokens"])) == 300
    assert tensors["blk.0.ffn_down.weight"][0] == gguf.TERN2
    vocab = spm.Vocab.from_gguf_metadata(meta)
    assert vocab.decode(vocab.encode("ab cd")) == " ab cd"
    try:
        random_model(tmp("bad.gguf"), ["--ternary-type", "tq2_0", "--dim", "64"])
        raise AssertionError("TQ2_0 with width 64 must be rejected")
    except ValueError:
        pass
    assert random_model(tmp("tq.gguf"), ["--ternary-type", "tq2_0"]).dim == 256


def test_stories260k():
    """Greedy continuation of a real llama.cpp model (skipped if the shared file is absent)."""
    if not os.path.exists(STORIES):
        return "skipped"
    import greedy
    meta, _ = gguf.read_gguf(STORIES)
    vocab = spm.Vocab.from_gguf_metadata(meta)
    prompt = [1] + vocab.encode("Once upon a time")
    new = greedy.greedy(ref.load_model(STORIES), prompt, 20)
    text = vocab.decode(prompt[1:] + new)
    assert text.startswith(" Once upon a time, there was a little girl named Lily."), text
    return None


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    failed, skipped = [], []
    for name, fn in tests:
        try:
            if fn() == "skipped":
                skipped.append(name)
        except Exception:  # report every failure, not just the first
            failed.append(name)
            print(f"FAIL {name}", file=sys.stderr)
            traceback.print_exc()
    shutil.rmtree(TMP, ignore_errors=True)
    summary = f"reference selftest: {len(tests) - len(failed) - len(skipped)} passed, {len(failed)} failed, {len(skipped)} skipped"
    print(summary + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
