#!/usr/bin/env python3
"""Sliding-window perplexity of a GGUF model over token ids, with the numpy reference.

Definition (the one `tern perplexity` and tools/train/eval_ppl.py use): windows of C
tokens start every S tokens; each runs from an empty cache and scores the targets no
earlier window scored (the first scores all but the first token); the last window is
the one that reaches the end. ppl = exp(mean NLL).

    /usr/bin/python3 tools/reference/perplexity.py MODEL.gguf --tokens 1,5,9,... -c 16 --stride 8
prints the perplexity and the number of scored targets.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward  # noqa: E402


def perplexity(model, tokens, context, stride, kv_f16=False):
    n = len(tokens)
    nll, scored, scored_until, begin = 0.0, 0, 1, 0
    while True:
        end = min(begin + context, n)
        logits = forward.forward(model, tokens[begin:end], kv_f16).astype(np.float64)
        for target in range(max(begin + 1, scored_until), end):
            row = logits[target - 1 - begin]
            m = row.max()
            nll += np.log(np.exp(row - m).sum()) - (row[tokens[target]] - m)
            scored += 1
        scored_until = end
        if end >= n:
            break
        begin += stride
    return float(np.exp(nll / scored)), scored


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--tokens", required=True)
    p.add_argument("-c", "--context", type=int, required=True)
    p.add_argument("--stride", type=int, required=True)
    p.add_argument("--kv-f16", action="store_true", help="round keys and values to float16 (an F16 KV cache)")
    a = p.parse_args()
    tokens = [int(t) for t in a.tokens.split(",")]
    ppl, scored = perplexity(forward.load_model(a.model), tokens, a.context, a.stride, a.kv_f16)
    print(f"{ppl:.10f} {scored}")


if __name__ == "__main__":
    main()
