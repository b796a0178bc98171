#!/usr/bin/python3
"""Greedy decoding with the reference forward pass: a plausibility check of a real model.

Usage:
    /usr/bin/python3 tools/reference/greedy.py MODEL.gguf --prompt "Once upon a time" -n 40

Prints the prompt ids, the generated ids and the decoded text. Recomputes the full
sequence each step (the reference has no incremental state); fine for tiny models.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward as ref  # noqa: E402
import gguf  # noqa: E402
import spm  # noqa: E402


def greedy(model, prompt_ids, n_new):
    ids = list(prompt_ids)
    for _ in range(n_new):
        ids.append(int(np.argmax(ref.forward(model, ids)[-1])))
    return ids[len(prompt_ids):]


def main(argv=None):
    ap = argparse.ArgumentParser(description="greedy continuation with the reference forward")
    ap.add_argument("model")
    ap.add_argument("--prompt", default="Once upon a time")
    ap.add_argument("-n", type=int, default=40)
    args = ap.parse_args(argv)
    meta, _ = gguf.read_gguf(args.model)
    vocab = spm.Vocab.from_gguf_metadata(meta)
    bos = int(meta.get("tokenizer.ggml.bos_token_id", 1))
    prompt = [bos] + vocab.encode(args.prompt, bool(meta.get("tokenizer.ggml.add_space_prefix", True)))
    new = greedy(ref.load_model(args.model), prompt, args.n)
    print("prompt ids:", prompt)
    print("new ids:   ", new)
    print("text:      ", vocab.decode(prompt[1:] + new).lstrip(" "))


if __name__ == "__main__":
    main()
