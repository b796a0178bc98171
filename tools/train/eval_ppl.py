#!/usr/bin/python3
"""Perplexity of the torch model (or a unigram baseline) on a text file.

Usage: tools/train/eval_ppl.py FILE [--work /tmp/tern-train] [--ckpt PATH] [--context C] [--stride S]
                               [--unigram TRAIN.txt]

Definition (the C++ `tern perplexity` implements the same):
  tokens = [BOS=1] + sp.encode(whole file text); N = len(tokens)
  context C (default: the model's), stride S (default C/2)
  windows start at b = 0, S, 2S, ...; each window feeds tokens[b : min(b+C, N)]
  from an empty cache and scores target positions p from max(b+1, end of the
  previous window) to the window's end - 1 (tokens[p] is predicted by the logits
  at window position p-1-b); stop after the window that reaches N.
  ppl = exp(mean NLL over all scored targets)  (every token but the BOS is scored once)

--unigram TRAIN.txt instead scores every target with unigram token frequencies of
TRAIN.txt under the same tokenization (add-one smoothing over the whole vocabulary;
the BOS prepended to TRAIN.txt is counted like in training).
"""

import argparse
import math
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # see train.py
import time

import numpy as np
import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import load_checkpoint  # noqa: E402


def windows(n, context, stride):
    """Yields (b, end, first_scored) following the definition above."""
    b, prev_end = 0, 0
    while True:
        end = min(b + context, n)
        first = max(b + 1, prev_end)
        yield b, end, first
        if end >= n:
            return
        prev_end = end
        b += stride


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--work", default="/tmp/tern-train")
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--context", type=int, default=None)
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16, help="windows per forward pass")
    ap.add_argument("--unigram", default=None, metavar="TRAIN.txt")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer or os.path.join(args.work, "tokenizer", "kjv4k.model"))
    text = open(args.file, encoding="utf-8").read()
    tokens = [1] + sp.encode(text)
    n = len(tokens)

    if args.unigram:
        train = [1] + sp.encode(open(args.unigram, encoding="utf-8").read())
        counts = np.bincount(np.array(train), minlength=sp.get_piece_size()).astype(np.float64) + 1.0
        logp = np.log(counts / counts.sum())
        nll = -logp[np.array(tokens[1:])]
        print(f"unigram (add-one, from {args.unigram}, {len(train)} tokens): {args.file}: {n} tokens, "
              f"{len(nll)} scored, mean NLL {nll.mean():.4f}, ppl {math.exp(nll.mean()):.3f}")
        return

    model, ck = load_checkpoint(args.ckpt or os.path.join(args.work, "ckpt", "model.pt"))
    C = args.context or model.c.context
    S = args.stride or C // 2
    if C > model.c.context or S < 1 or S > C:
        sys.exit(f"need 1 <= stride <= context <= {model.c.context}")
    t = torch.tensor(tokens, dtype=torch.long)
    total, scored = 0.0, 0
    t0 = time.time()
    fed = 0
    # Windows of equal length run as one batch (each is still its own sequence
    # from an empty cache); the result is the same as one window at a time.
    ws = list(windows(n, C, S))
    groups = []
    for w in ws:
        if groups and len(groups[-1]) < args.batch and groups[-1][0][1] - groups[-1][0][0] == w[1] - w[0]:
            groups[-1].append(w)
        else:
            groups.append([w])
    with torch.no_grad():
        for g in groups:
            logits = model(torch.stack([t[b:end] for b, end, _ in g])).double()
            for row, (b, end, first) in enumerate(g):
                fed += end - b
                if first < end:
                    pos = torch.arange(first, end)
                    lp = torch.log_softmax(logits[row, pos - 1 - b], dim=-1)
                    total += -lp[torch.arange(len(pos)), t[pos]].sum().item()
                    scored += len(pos)
    dt = time.time() - t0
    nll = total / scored
    print(f"{args.file}: {n} tokens, {scored} scored, context {C}, stride {S}: "
          f"mean NLL {nll:.4f}, ppl {math.exp(nll):.3f} ({fed / dt:.0f} tokens/s fed, {dt:.1f} s)")


if __name__ == "__main__":
    main()
