#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/fuzz_*.cpp) from ../shared, the
repro inputs in ../shared/fuzz-repros and small models made by tools/reference.

Usage:
    /usr/bin/python3 tests/fuzz/make_corpus.py OUT_DIR [--shared DIR]

Writes OUT_DIR/<target>/<seed> for each target (gguf, safetensors, hf_folder, bitllama2c,
spm_model, tokenizer, batch_line). Nothing is committed: the seeds are rebuilt from the
shared data each time (scripts/fuzz.sh, scripts/test.sh).
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(ROOT, "tools", "reference")
PYTHON = "/usr/bin/python3"  # Debian's, with numpy (tools/reference needs it)
SEPARATOR = b"@@@@"  # between the files of an HF folder input (fuzz_hf_folder.cpp)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def put(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def small_models(tmp):
    """Tiny GGUF models with different tensor types and features."""
    variants = {
        "tern2": [],
        "tq2_0": ["--ternary-type", "tq2_0", "--dim", "256", "--ffn", "256", "--embd-type", "q4_k", "--blocks", "1"],
        "tq1_0-q8": ["--ternary-type", "tq1_0", "--dim", "256", "--ffn", "256", "--embd-type", "q8_0", "--blocks", "1"],
        "relu2-subnorm": ["--act", "relu2", "--sub-norms", "--linear-norm", "--untied", "--repeat", "1"],
    }
    models = {}
    for name, args in variants.items():
        path = os.path.join(tmp, name + ".gguf")
        base = ["--dim", "32", "--ffn", "48", "--heads", "2", "--kv-heads", "1", "--vocab", "260", "--ctx", "16"]
        cmd = [PYTHON, os.path.join(REFERENCE, "make_random_model.py"), "--out", path] + base + args
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            models[name] = read(path)
    return models


def block_repeat_fixed(repro):
    """The block-repeat repro with its repeat set back to 2: a valid 16 KB model."""
    data = bytearray(repro)
    at = data.find(b"mobilellm.block_repeat")
    if at >= 0 and struct.unpack_from("<I", data, at + 22)[0] == 4:  # u32
        struct.pack_into("<I", data, at + 26, 2)
    return bytes(data)


def tiny_bitllama2c(dim=8, hidden=16, layers=1, heads=2, kv_heads=1, vocab=16, seq_len=8):
    """A valid bitllama2.c checkpoint of a few KB (docs/FORMAT.md 5.1)."""
    header = struct.pack("<Ii7i", 0x616B3432, 1, dim, hidden, layers, heads, kv_heads, vocab, seq_len) + b"\x01"
    out = bytearray(header.ljust(256, b"\0"))
    out += struct.pack(f"<{dim}f", *([1.0] * dim))                                    # final norm
    out += struct.pack(f"<{dim * vocab}f", *[(i % 7 - 3) / 8 for i in range(dim * vocab)])  # embedding
    kv_dim = dim // heads * kv_heads
    shapes = [(dim, dim), (kv_dim, dim), (kv_dim, dim), (dim, dim), (hidden, dim), (dim, hidden), (hidden, dim)]
    codes = bytes([0b00011101, 0b11010001, 0b01110100])  # 2-bit codes 00, 01, 11 only
    for rows, cols in shapes:
        for _ in range(layers):
            out += struct.pack("<f", 0.5)
            out += bytes(codes[i % 3] for i in range(rows * cols // 4))
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    a = ap.parse_args()
    shared, repros = a.shared, os.path.join(a.shared, "fuzz-repros")
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    tmp = tempfile.mkdtemp(prefix="tern-corpus-")
    try:
        # GGUF: small models, the fixed and the original block-repeat repro, a vocab file.
        for name, data in small_models(tmp).items():
            put(a.out, "gguf", name + ".gguf", data)
        repeat = read(os.path.join(repros, "gguf-block-repeat-16M.gguf"))
        put(a.out, "gguf", "block-repeat-16M.gguf", repeat)
        put(a.out, "gguf", "block-repeat-2.gguf", block_repeat_fixed(repeat))

        # safetensors and HF folders: the repro folders and the st repros.
        for d in sorted(os.listdir(repros)):
            if not d.startswith("hf-"):
                continue
            files = [read(os.path.join(repros, d, f)) for f in ("config.json", "tokenizer.json", "model.safetensors")]
            put(a.out, "safetensors", d + ".safetensors", files[2])
            put(a.out, "hf_folder", d, SEPARATOR.join(files))
        for f in sorted(os.listdir(os.path.join(repros, "st"))):
            put(a.out, "safetensors", f, read(os.path.join(repros, "st", f)))
        # A valid folder: the float-id repro's config with a good tokenizer.json.
        good_config = json.loads(read(os.path.join(repros, "hf-tokjson-id-float-dir", "config.json")))
        put(a.out, "hf_folder", "valid", SEPARATOR.join([
            json.dumps(good_config).encode(),
            read(os.path.join(repros, "hf-permute-overflow-dir", "tokenizer.json")),
            read(os.path.join(repros, "hf-tokjson-id-float-dir", "model.safetensors"))]))

        # bitllama2.c: a tiny valid checkpoint, the 1M model's header, both repros' headers.
        put(a.out, "bitllama2c", "tiny.bin", tiny_bitllama2c())
        put(a.out, "bitllama2c", "bitllama2c-1M-header.bin", read(os.path.join(shared, "models", "bitllama2c-1M.bin"))[:4096])
        for f in ("bitllama2c-4gib-alloc.bin", "bitllama2c-huge-alloc.bin"):
            put(a.out, "bitllama2c", f, read(os.path.join(repros, f))[:4096])  # the header is what matters

        # SentencePiece models.
        put(a.out, "spm_model", "tok512.model", read(os.path.join(shared, "models", "tok512.model")))
        put(a.out, "spm_model", "llama2.model", read(os.path.join(shared, "tokenizers", "llama2.model")))

        # Tokenizer text: the llama.cpp test inputs, one seed per line, for both vocabularies.
        inp = read(os.path.join(shared, "tokenizers", "ggml-vocab-llama-spm.gguf.inp"))
        for i, text in enumerate(t for t in inp.split(b"\n__ggml_vocab_test__\n") if t):
            for selector in (0, 1):
                put(a.out, "tokenizer", f"inp-{i}-{selector}", bytes([selector]) + text)

        # Batch lines: the repro and one line per parameter.
        put(a.out, "batch_line", "float-cast", read(os.path.join(repros, "batch-float-cast.jsonl")).strip())
        lines = [
            {"id": 1, "prompt": "Once upon a time", "n_predict": 16, "temperature": 0.7, "top_k": 40, "top_p": 0.9,
             "min_p": 0.05, "repeat_penalty": 1.1, "seed": 42, "stop": ["\n", "The end"]},
            {"id": "a", "prompt": "x", "stop": "."},
            {"prompt": "", "n_predict": -1, "seed": 18446744073709551615},
        ]
        for i, line in enumerate(lines):
            put(a.out, "batch_line", f"line-{i}", json.dumps(line).encode())
    finally:
        shutil.rmtree(tmp)
    for target in sorted(os.listdir(a.out)):
        print(f"{target}: {len(os.listdir(os.path.join(a.out, target)))} seeds")


if __name__ == "__main__":
    main()
