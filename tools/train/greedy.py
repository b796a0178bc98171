#!/usr/bin/python3
"""Greedy (or sampled) generation from the torch model.

Usage: tools/train/greedy.py "PROMPT" [-n 40] [--work /tmp/tern-train] [--ckpt PATH]
                             [--temperature T --seed S]

The prompt is encoded with BOS (id 1) prepended; each step feeds the whole
sequence (last `context` tokens) and takes the argmax of the last logits
(--temperature > 0: samples from softmax(logits / T) with torch's RNG seeded by --seed).
Prints the prompt ids, the generated ids and the decoded text.
"""

import argparse
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # see train.py

import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import load_checkpoint  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompt", nargs="+")
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--work", default="/tmp/tern-train")
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer or os.path.join(args.work, "tokenizer", "kjv4k.model"))
    model, _ = load_checkpoint(args.ckpt or os.path.join(args.work, "ckpt", "model.pt"))
    for prompt in args.prompt:
        ids = [1] + sp.encode(prompt)
        gen = []
        with torch.no_grad():
            for _ in range(args.n):
                x = torch.tensor([(ids + gen)[-model.c.context:]])
                logits = model(x)[0, -1]
                if args.temperature > 0:
                    nxt = int(torch.multinomial(torch.softmax(logits / args.temperature, -1), 1))
                else:
                    nxt = int(torch.argmax(logits))
                gen.append(nxt)
                if nxt == 2:
                    break
        mode = "greedy" if args.temperature <= 0 else f"sampled T={args.temperature} seed={args.seed}"
        print(f"--- {mode}: {prompt!r}")
        print(f"prompt ids: {ids}")
        print(f"generated ids: {gen}")
        print(f"text: {sp.decode(ids[1:] + gen)}")


if __name__ == "__main__":
    main()
