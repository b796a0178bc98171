"""Minimal GGUF v3 reader/writer and tensor codecs, written from docs/FORMAT.md only.

This is the independent reference the C++ engine is tested against, so every codec is
written as literally as the spec text allows, favouring obviousness over speed.
Only numpy is used.
"""

import struct

import numpy as np

GGUF_MAGIC = 0x46554747  # "GGUF" read as a little-endian u32
GGUF_VERSION = 3
DEFAULT_ALIGNMENT = 32

# Metadata value types (FORMAT.md section 1).
U8, I8, U16, I16, U32, I32, F32_V, BOOL, STRING, ARRAY, U64, I64, F64 = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)

_SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
               F32_V: "<f", U64: "<Q", I64: "<q", F64: "<d"}

# Tensor types (FORMAT.md section 2).
F32, F16, Q8_0, Q4_K, Q6_K, TQ1_0, TQ2_0, BF16, TERN2 = 0, 1, 8, 12, 14, 34, 35, 30, 4096
I2_S, TERN2R, Q4_0 = 36, 4097, 2
TYPE_NAMES = {F32: "F32", F16: "F16", BF16: "BF16", Q4_0: "Q4_0", Q8_0: "Q8_0", Q4_K: "Q4_K", Q6_K: "Q6_K",
              TQ1_0: "TQ1_0", TQ2_0: "TQ2_0", TERN2: "TERN2", I2_S: "I2_S", TERN2R: "TERN2R"}
TERNARY_TYPES = (TQ1_0, TQ2_0, TERN2, TERN2R)
QK8_0 = 32
QK_K = 256
_BLOCK = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q4_0: (32, 18), Q8_0: (32, 34), Q4_K: (256, 144), Q6_K: (256, 210),
          TQ1_0: (256, 54), TQ2_0: (256, 66)}


# ----------------------------------------------------------------------------- sizes

def n_rows(ne):
    """Rows of a tensor: the product of every dimension but the innermost."""
    return int(np.prod(ne[1:], dtype=np.int64)) if len(ne) > 1 else 1


def tensor_nbytes(type_id, ne):
    """Byte size of a tensor's data, per the table in FORMAT.md section 2."""
    ne0, rows = int(ne[0]), n_rows(ne)
    if type_id == TERN2:
        return rows * ((ne0 + 3) // 4) + 4
    if type_id == TERN2R:
        return rows * ((ne0 + 3) // 4 + 4)
    if type_id == I2_S:  # bitnet.cpp: 2 bits per weight, then the f32 scale padded to 32 bytes
        if ne0 % 128:
            raise ValueError(f"row length {ne0} is not a multiple of I2_S's block 128")
        return rows * ne0 // 4 + 32
    if type_id not in _BLOCK:
        raise ValueError(f"unknown tensor type {type_id}")
    block, nbytes = _BLOCK[type_id]
    if ne0 % block:
        raise ValueError(f"row length {ne0} is not a multiple of {TYPE_NAMES[type_id]}'s block {block}")
    return rows * (ne0 // block) * nbytes


# ----------------------------------------------------------------------------- reader

class _Cursor:
    """Sequential little-endian reader over a byte buffer (the GGUF header)."""

    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n):
        if self.pos + n > len(self.buf):
            raise ValueError(f"GGUF truncated at byte {self.pos} (need {n} more)")
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def scalar(self, vtype):
        fmt = _SCALAR_FMT[vtype]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.scalar(U64)).decode("utf-8")

    def value(self, vtype):
        """Reads one metadata value; returns (value, type spec) where arrays are (ARRAY, inner spec)."""
        if vtype in _SCALAR_FMT:
            return self.scalar(vtype), vtype
        if vtype == BOOL:
            b = self.take(1)[0]
            if b > 1:
                raise ValueError(f"bool byte {b} is not 0 or 1")
            return bool(b), BOOL
        if vtype == STRING:
            return self.string(), STRING
        if vtype == ARRAY:
            etype, count = self.scalar(U32), self.scalar(U64)
            items, spec = [], etype
            for _ in range(count):
                item, spec = self.value(etype)
                items.append(item)
            return items, (ARRAY, spec)
        raise ValueError(f"unknown metadata value type {vtype}")


def read_gguf_full(path):
    """Parses a GGUF file; returns dict with metadata, types, tensors, alignment, data_start.

    Tensors map name -> (type_id, ne, raw) where raw is a read-only np.uint8 view into
    a memory map, so large models are not copied.
    """
    data = np.memmap(path, dtype=np.uint8, mode="r")
    cur = _Cursor(data)
    if cur.scalar(U32) != GGUF_MAGIC:
        raise ValueError(f"{path}: bad magic")
    version = cur.scalar(U32)
    if version != GGUF_VERSION:
        raise ValueError(f"{path}: version {version}, expected {GGUF_VERSION}")
    n_tensors, n_kv = cur.scalar(U64), cur.scalar(U64)
    metadata, types = {}, {}
    for _ in range(n_kv):
        key = cur.string()
        if key in metadata:
            raise ValueError(f"{path}: duplicate key {key}")
        metadata[key], types[key] = cur.value(cur.scalar(U32))
    infos = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.scalar(U32)
        if not 1 <= n_dims <= 4:
            raise ValueError(f"{path}: tensor {name} has n_dims {n_dims}")
        ne = [cur.scalar(U64) for _ in range(n_dims)]
        infos.append((name, cur.scalar(U32), ne, cur.scalar(U64)))
    alignment = int(metadata.get("general.alignment", DEFAULT_ALIGNMENT))
    data_start = _align(cur.pos, alignment)
    tensors = {}
    for name, type_id, ne, offset in infos:
        if name in tensors:
            raise ValueError(f"{path}: duplicate tensor {name}")
        if offset % alignment:
            raise ValueError(f"{path}: tensor {name} offset {offset} not aligned to {alignment}")
        start, size = data_start + offset, tensor_nbytes(type_id, ne)
        if start + size > len(data):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file")
        tensors[name] = (type_id, ne, data[start:start + size])
    return {"metadata": metadata, "types": types, "tensors": tensors,
            "alignment": alignment, "data_start": data_start}


def read_gguf(path):
    """Returns (metadata, tensors) with tensors[name] = (type_id, ne, raw uint8 array)."""
    f = read_gguf_full(path)
    return f["metadata"], f["tensors"]


def _align(n, alignment):
    return (n + alignment - 1) // alignment * alignment


# ----------------------------------------------------------------------------- writer

class GGUFWriter:
    """Collects typed metadata and raw tensors and writes a GGUF v3 file.

    Types are explicit because the C++ loader checks them (e.g. u32 vs i32); an array's
    type is given as (ARRAY, element type spec), which nests for arrays of arrays.
    """

    def __init__(self, alignment=DEFAULT_ALIGNMENT, write_alignment_key=False):
        self.alignment = alignment
        self.kv = []  # (key, type spec, value)
        self.tensors = []  # (name, type_id, ne, raw bytes)
        if write_alignment_key or alignment != DEFAULT_ALIGNMENT:
            self.add("general.alignment", U32, alignment)

    def add(self, key, vtype, value):
        if any(k == key for k, _, _ in self.kv):
            raise ValueError(f"duplicate key {key}")
        self.kv.append((key, vtype, value))

    # Conveniences for the common cases.
    def add_u32(self, key, v): self.add(key, U32, v)
    def add_i32(self, key, v): self.add(key, I32, v)
    def add_f32(self, key, v): self.add(key, F32_V, v)
    def add_bool(self, key, v): self.add(key, BOOL, v)
    def add_string(self, key, v): self.add(key, STRING, v)
    def add_array(self, key, elem_type, values): self.add(key, (ARRAY, elem_type), list(values))

    def add_tensor(self, name, type_id, ne, raw):
        raw = bytes(np.ascontiguousarray(raw).view(np.uint8).reshape(-1)) if isinstance(raw, np.ndarray) else bytes(raw)
        expected = tensor_nbytes(type_id, ne)
        if len(raw) != expected:
            raise ValueError(f"tensor {name}: {len(raw)} bytes, expected {expected}")
        if any(n == name for n, _, _, _ in self.tensors):
            raise ValueError(f"duplicate tensor {name}")
        self.tensors.append((name, type_id, [int(n) for n in ne], raw))

    def to_bytes(self):
        out = bytearray()
        out += struct.pack("<IIQQ", GGUF_MAGIC, GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, vtype, value in self.kv:
            _put_string(out, key)
            out += struct.pack("<I", vtype[0] if isinstance(vtype, tuple) else vtype)
            _put_value(out, vtype, value)
        offset = 0
        offsets = []
        for name, type_id, ne, raw in self.tensors:
            offsets.append(offset)
            _put_string(out, name)
            out += struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
            out += struct.pack("<IQ", type_id, offset)
            offset = _align(offset + len(raw), self.alignment)
        out += b"\0" * (_align(len(out), self.alignment) - len(out))
        data_start = len(out)
        for (_, _, _, raw), off in zip(self.tensors, offsets):
            out += b"\0" * (data_start + off - len(out))
            out += raw
        out += b"\0" * (_align(len(out), self.alignment) - len(out))
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())


def _put_string(out, s):
    b = s.encode("utf-8")
    out += struct.pack("<Q", len(b)) + b


def _put_value(out, vtype, value):
    if isinstance(vtype, tuple):
        _, etype = vtype
        out += struct.pack("<IQ", etype[0] if isinstance(etype, tuple) else etype, len(value))
        for item in value:
            _put_value(out, etype, item)
    elif vtype in _SCALAR_FMT:
        out += struct.pack(_SCALAR_FMT[vtype], value)
    elif vtype == BOOL:
        out += struct.pack("<B", 1 if value else 0)
    elif vtype == STRING:
        _put_string(out, value)
    else:
        raise ValueError(f"unknown value type {vtype}")


# ----------------------------------------------------------------------------- float codecs

def f32_to_f16_bytes(x):
    """IEEE binary16, round to nearest even (numpy's conversion)."""
    return np.asarray(x, dtype=np.float32).astype("<f2").tobytes()


def f16_bytes_to_f32(raw):
    return np.frombuffer(bytes(raw), dtype="<f2").astype(np.float32)


def f32_to_bf16_bytes(x):
    """Upper 16 bits of binary32, rounded to nearest even (NaNs kept quiet)."""
    u = np.asarray(x, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    rounded = np.where(nan, (u >> 16) | 0x40, rounded)
    return rounded.astype("<u2").tobytes()


def bf16_bytes_to_f32(raw):
    u = np.frombuffer(bytes(raw), dtype="<u2").astype(np.uint32) << 16
    return u.view(np.float32)


# ----------------------------------------------------------------------------- Q8_0

def quantize_q8_0(rows):
    """Encodes float rows [n_rows, n] (n % 32 == 0) as Q8_0: per 32 weights f16 d, 32 int8 q.

    d = amax/127 and q = round(x/d) as llama.cpp does; the exact q choice does not matter
    for the engine's tests since both sides decode the same bytes.
    """
    x = np.asarray(rows, dtype=np.float32).reshape(-1, QK8_0)
    amax = np.abs(x).max(axis=1)
    d = amax / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.clip(np.rint(x * inv[:, None]), -127, 127).astype(np.int8)
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, :2] = np.frombuffer(f32_to_f16_bytes(d), dtype=np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def _dequant_q8_0(raw, count):
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(count // QK8_0, 34)
    d = f16_bytes_to_f32(b[:, :2].tobytes())
    q = b[:, 2:].copy().view(np.int8).astype(np.float32)
    return (d[:, None] * q).reshape(-1)


# Q4_0 (FORMAT.md section 2): blocks of 32 weights, an f16 d then 16 bytes; byte i holds
# weight i in its low nibble and weight 16 + i in its high one; w = d * (nibble - 8).

def quantize_q4_0(rows):
    """Float rows (n % 32 == 0) as Q4_0: d = (the block's value of largest magnitude) / -8."""
    x = np.asarray(rows, dtype=np.float32).reshape(-1, 32)
    extreme = x[np.arange(x.shape[0]), np.abs(x).argmax(axis=1)]
    d16 = np.frombuffer(f32_to_f16_bytes(extreme / -8.0), dtype=np.uint8).reshape(-1, 2)
    d = f16_bytes_to_f32(d16.tobytes())
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    codes = np.clip(np.rint(x * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    out = np.empty((x.shape[0], 18), dtype=np.uint8)
    out[:, :2] = d16
    out[:, 2:] = codes[:, :16] | (codes[:, 16:] << 4)
    return out.tobytes()


def _dequant_q4_0(raw, count):
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(count // 32, 18)
    d = f16_bytes_to_f32(b[:, :2].tobytes())
    nibbles = np.concatenate([b[:, 2:] & 0xF, b[:, 2:] >> 4], axis=1).astype(np.float32)  # weights 0..15, 16..31
    return (d[:, None] * (nibbles - 8.0)).reshape(-1)


# ----------------------------------------------------------------------------- K-quants
# ggml's Q4_K and Q6_K super-blocks of 256 weights (FORMAT.md section 2), as llama.cpp
# writes the embeddings / LM heads of TQ1_0 / TQ2_0 models. The quantizers pick simple
# scales (max-based); both sides of every test decode the same bytes.

def quantize_q6_k(rows):
    """Float rows (n % 256 == 0) as Q6_K: ql[128] low nibbles, qh[64] 2-bit tops, 16 int8 scales, f16 d."""
    x = np.asarray(rows, dtype=np.float32).reshape(-1, QK_K)
    sub = np.abs(x.reshape(-1, 16, 16)).max(axis=2) / 31.0                  # [nb, 16] sub-block scales
    d = sub.max(axis=1) / 127.0
    d16 = np.frombuffer(f32_to_f16_bytes(d), dtype=np.uint8).reshape(-1, 2)
    d = f16_bytes_to_f32(d16.tobytes())
    sc = np.clip(np.rint(np.divide(sub, d[:, None], out=np.zeros_like(sub), where=d[:, None] != 0)), -127, 127)
    step = np.repeat(d[:, None] * sc, 16, axis=1)                           # [nb, 256]
    q = np.clip(np.rint(np.divide(x, step, out=np.zeros_like(x), where=step != 0)), -32, 31).astype(np.int64) + 32
    out = np.empty((x.shape[0], 210), dtype=np.uint8)
    for h in range(2):
        part = q[:, h * 128:(h + 1) * 128]
        quarters = [part[:, k * 32:(k + 1) * 32] for k in range(4)]
        out[:, h * 64:h * 64 + 32] = (quarters[0] & 0xF) | ((quarters[2] & 0xF) << 4)
        out[:, h * 64 + 32:h * 64 + 64] = (quarters[1] & 0xF) | ((quarters[3] & 0xF) << 4)
        out[:, 128 + h * 32:128 + (h + 1) * 32] = sum((quarters[k] >> 4) << (2 * k) for k in range(4))
    out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
    out[:, 208:210] = d16
    return out.tobytes()


def _dequant_q6_k(raw, count):
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(count // QK_K, 210).astype(np.int64)
    d = f16_bytes_to_f32(b[:, 208:210].astype(np.uint8).tobytes())
    sc = b[:, 192:208].astype(np.uint8).view(np.int8).astype(np.float32)
    q = np.empty((b.shape[0], QK_K), dtype=np.int64)
    for h in range(2):
        low, top = b[:, h * 64:(h + 1) * 64], b[:, 128 + h * 32:128 + (h + 1) * 32]
        nibbles = [low[:, :32] & 0xF, low[:, 32:] & 0xF, low[:, :32] >> 4, low[:, 32:] >> 4]
        for k in range(4):
            q[:, h * 128 + k * 32:h * 128 + (k + 1) * 32] = nibbles[k] | (((top >> (2 * k)) & 3) << 4)
    step = (d[:, None] * sc).astype(np.float32)                              # [nb, 16]
    return (np.repeat(step, 16, axis=1) * (q - 32).astype(np.float32)).reshape(-1)


def quantize_q4_k(rows):
    """Float rows (n % 256 == 0) as Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, qs[128]."""
    x = np.asarray(rows, dtype=np.float32).reshape(-1, 8, 32)
    lo = np.minimum(x.min(axis=2), 0.0)
    scale = (x.max(axis=2) - lo) / 15.0                                      # [nb, 8]
    d = scale.max(axis=1) / 63.0
    dmin = (-lo).max(axis=1) / 63.0
    d16 = np.frombuffer(f32_to_f16_bytes(d), dtype=np.uint8).reshape(-1, 2)
    m16 = np.frombuffer(f32_to_f16_bytes(dmin), dtype=np.uint8).reshape(-1, 2)
    d, dmin = f16_bytes_to_f32(d16.tobytes()), f16_bytes_to_f32(m16.tobytes())
    sc = np.clip(np.rint(np.divide(scale, d[:, None], out=np.zeros_like(scale), where=d[:, None] != 0)), 0, 63)
    mn = np.clip(np.rint(np.divide(-lo, dmin[:, None], out=np.zeros_like(lo), where=dmin[:, None] != 0)), 0, 63)
    sc, mn = sc.astype(np.int64), mn.astype(np.int64)
    step = (d[:, None] * sc)[:, :, None]
    q = np.clip(np.rint(np.divide(x + (dmin[:, None] * mn)[:, :, None], step, out=np.zeros_like(x),
                                  where=step != 0)), 0, 15).astype(np.int64)
    out = np.empty((x.shape[0], 144), dtype=np.uint8)
    out[:, 0:2], out[:, 2:4] = d16, m16
    packed = np.zeros((x.shape[0], 12), dtype=np.int64)
    packed[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    packed[:, 4:8] = mn[:, 0:4] | ((mn[:, 4:8] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:8] & 0xF) | ((mn[:, 4:8] & 0xF) << 4)
    out[:, 4:16] = packed
    for k in range(4):
        out[:, 16 + k * 32:16 + (k + 1) * 32] = q[:, 2 * k] | (q[:, 2 * k + 1] << 4)
    return out.tobytes()


def _dequant_q4_k(raw, count):
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(count // QK_K, 144).astype(np.int64)
    d = f16_bytes_to_f32(b[:, 0:2].astype(np.uint8).tobytes())
    dmin = f16_bytes_to_f32(b[:, 2:4].astype(np.uint8).tobytes())
    p = b[:, 4:16]
    sc = np.concatenate([p[:, 0:4] & 63, (p[:, 8:12] & 0xF) | ((p[:, 0:4] >> 6) << 4)], axis=1)
    mn = np.concatenate([p[:, 4:8] & 63, (p[:, 8:12] >> 4) | ((p[:, 4:8] >> 6) << 4)], axis=1)
    qs = b[:, 16:144].reshape(-1, 4, 32)
    q = np.stack([qs & 0xF, qs >> 4], axis=2).reshape(-1, 8, 32)            # sub-block 2k, 2k + 1
    step = (d[:, None] * sc.astype(np.float32)).astype(np.float32)
    offset = (dmin[:, None] * mn.astype(np.float32)).astype(np.float32)
    return (step[:, :, None] * q.astype(np.float32) - offset[:, :, None]).reshape(-1)


# ----------------------------------------------------------------------------- TQ1_0

_POW3 = [1, 3, 9, 27, 81]


def pack_trits5(trits):
    """Packs 5 trits (t0 most significant) into one byte: ceil(v * 256 / 243)."""
    v = 0
    for t in trits:
        v = v * 3 + int(t)
    return (v * 256 + 242) // 243


def unpack_trit(byte, n):
    """The n-th trit of a packed byte: ((u8)(byte * 3^n) * 3) >> 8."""
    return (((int(byte) * _POW3[n]) & 0xFF) * 3) >> 8


def _tq1_0_groups():
    """For each of the 52 packed bytes of a TQ1_0 block, the weight indices of its trits 0..4
    (None for the qh bytes' always-zero trit 4), exactly as listed in FORMAT.md 2.1."""
    groups = []
    for m in range(32):
        groups.append([m + 32 * n for n in range(5)])
    for m in range(16):
        groups.append([160 + m + 16 * n for n in range(5)])
    for j in range(4):
        groups.append([240 + j + 4 * n for n in range(4)] + [None])
    return groups


_TQ1_GROUPS = _tq1_0_groups()


def quantize_tq1_0(codes, d):
    """Encodes ternary rows codes[n_rows, n] (values -1/0/1, n % 256 == 0) with per-block
    scales d[n_rows, n/256] as TQ1_0 blocks (qs[48], qh[4], f16 d)."""
    codes = np.asarray(codes).reshape(-1, QK_K)
    d = np.asarray(d, dtype=np.float32).reshape(-1)
    assert d.size == codes.shape[0], "one d per 256-weight block"
    t = codes.astype(np.int64) + 1
    out = np.empty((codes.shape[0], 54), dtype=np.uint8)
    for byte_idx, group in enumerate(_TQ1_GROUPS):
        v = np.zeros(codes.shape[0], dtype=np.int64)
        for w in group:  # base-3 number, trit 0 most significant; missing trit 4 is 0
            v = v * 3 + (t[:, w] if w is not None else 0)
        out[:, byte_idx] = (v * 256 + 242) // 243  # ceil(v * 256 / 243)
    out[:, 52:] = np.frombuffer(f32_to_f16_bytes(d), dtype=np.uint8).reshape(-1, 2)
    return out.tobytes()


def _tq1_0_codes(raw, n_blocks):
    """Decodes TQ1_0 into (codes [n_blocks, 256] int8, d [n_blocks] float32)."""
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(n_blocks, 54)
    codes = np.zeros((n_blocks, QK_K), dtype=np.int8)
    for byte_idx, group in enumerate(_TQ1_GROUPS):
        col = b[:, byte_idx].astype(np.int64)
        for n, w in enumerate(group):
            if w is not None:
                codes[:, w] = ((((col * _POW3[n]) & 0xFF) * 3) >> 8) - 1
    d = f16_bytes_to_f32(b[:, 52:54].tobytes())
    return codes, d


# ----------------------------------------------------------------------------- TQ2_0

def quantize_tq2_0(codes, d):
    """Encodes ternary rows (n % 256 == 0) with per-block scales d as TQ2_0 (qs[64], f16 d)."""
    codes = np.asarray(codes).reshape(-1, QK_K)
    d = np.asarray(d, dtype=np.float32).reshape(-1)
    assert d.size == codes.shape[0], "one d per 256-weight block"
    t = codes.astype(np.int64) + 1
    out = np.zeros((codes.shape[0], 66), dtype=np.int64)
    for h in range(2):
        for m in range(32):
            for n in range(4):
                out[:, 32 * h + m] |= t[:, 128 * h + m + 32 * n] << (2 * n)
    out = out.astype(np.uint8)
    out[:, 64:] = np.frombuffer(f32_to_f16_bytes(d), dtype=np.uint8).reshape(-1, 2)
    return out.tobytes()


def _tq2_0_codes(raw, n_blocks):
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(n_blocks, 66)
    codes = np.zeros((n_blocks, QK_K), dtype=np.int8)
    for h in range(2):
        for m in range(32):
            byte = b[:, 32 * h + m].astype(np.int64)
            for n in range(4):
                t = (byte >> (2 * n)) & 3
                if np.any(t == 3):
                    raise ValueError("TQ2_0 code 3 is invalid")
                codes[:, 128 * h + m + 32 * n] = t - 1
    d = f16_bytes_to_f32(b[:, 64:66].tobytes())
    return codes, d


# ----------------------------------------------------------------------------- TERN2

def pack_tern2(codes, scale):
    """Encodes ternary matrix codes[n_out, n_in] as TERN2: rows of ceil(n_in/4) bytes
    (weight k in bits 2(k%4)+1..2(k%4) of byte k/4 as x+1, padding code 1), then f32 scale."""
    codes = np.asarray(codes)
    n_out, n_in = codes.shape
    row_bytes = (n_in + 3) // 4
    t = np.ones((n_out, row_bytes * 4), dtype=np.uint8)  # padding code 1 = weight 0
    t[:, :n_in] = codes.astype(np.int64) + 1
    t = t.reshape(n_out, row_bytes, 4)
    packed = t[..., 0] | (t[..., 1] << 2) | (t[..., 2] << 4) | (t[..., 3] << 6)
    return packed.astype(np.uint8).tobytes() + struct.pack("<f", float(scale))


def _tern2_codes(raw, n_out, n_in):
    row_bytes = (n_in + 3) // 4
    buf = np.frombuffer(bytes(raw), dtype=np.uint8)
    b = buf[:n_out * row_bytes].reshape(n_out, row_bytes).astype(np.int64)
    t = np.stack([(b >> (2 * j)) & 3 for j in range(4)], axis=-1).reshape(n_out, row_bytes * 4)[:, :n_in]
    if np.any(t == 3):
        raise ValueError("TERN2 code 3 is invalid")
    scale = struct.unpack("<f", bytes(buf[n_out * row_bytes:n_out * row_bytes + 4]))[0]
    return (t - 1).astype(np.int8), np.float32(scale)


# ----------------------------------------------------------------------------- decode API

def ternary_codes(type_id, ne, raw):
    """Returns (codes int8 [rows, ne0] in {-1,0,1}, scales float32 [rows, n_scales]).

    n_scales is ne0/256 (one d per block) for TQ1_0/TQ2_0 and 1 for TERN2 (the tensor
    scale repeated per row) and TERN2R (each row's scale), so the ternary linear can treat
    them all alike.
    """
    ne0, rows = int(ne[0]), n_rows(ne)
    if type_id == TERN2:
        codes, scale = _tern2_codes(raw, rows, ne0)
        return codes, np.full((rows, 1), scale, dtype=np.float32)
    if type_id == TERN2R:  # TERN2 rows, then one f32 scale per row
        stride = (ne0 + 3) // 4
        codes, _ = _tern2_codes(raw, rows, ne0)  # (its "scale" is row 0's)
        scales = np.frombuffer(bytes(raw[rows * stride:rows * stride + 4 * rows]), dtype="<f4")
        return codes, scales.astype(np.float32).reshape(rows, 1)
    if type_id in (TQ1_0, TQ2_0):
        if ne0 % QK_K:
            raise ValueError(f"row length {ne0} is not a multiple of 256")
        nb = rows * ne0 // QK_K
        codes, d = (_tq1_0_codes if type_id == TQ1_0 else _tq2_0_codes)(raw, nb)
        return codes.reshape(rows, ne0), d.reshape(rows, ne0 // QK_K)
    raise ValueError(f"type {type_id} is not ternary")


def dequantize(type_id, ne, raw):
    """Decodes any supported tensor to float32 with shape reversed(ne) ([ne1, ne0] for matrices)."""
    shape = tuple(int(n) for n in reversed(ne))
    count = int(np.prod(shape, dtype=np.int64))
    if type_id == F32:
        flat = np.frombuffer(bytes(raw), dtype="<f4").astype(np.float32)
    elif type_id == F16:
        flat = f16_bytes_to_f32(raw)
    elif type_id == BF16:
        flat = bf16_bytes_to_f32(raw)
    elif type_id == Q4_0:
        flat = _dequant_q4_0(raw, count)
    elif type_id == Q8_0:
        flat = _dequant_q8_0(raw, count)
    elif type_id == Q4_K:
        flat = _dequant_q4_k(raw, count)
    elif type_id == Q6_K:
        flat = _dequant_q6_k(raw, count)
    elif type_id in TERNARY_TYPES:
        codes, scales = ternary_codes(type_id, ne, raw)
        rows, ne0 = codes.shape
        per_block = np.repeat(scales, ne0 // scales.shape[1], axis=1)
        flat = (codes.astype(np.float32) * per_block).reshape(-1)
    else:
        raise ValueError(f"unknown tensor type {type_id}")
    return flat.reshape(shape)
