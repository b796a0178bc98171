#!/usr/bin/python3
"""Trains the ternary MobileLLM-LS style model from scratch on the KJV training split.

Usage: tools/train/train.py [--work /tmp/tern-train] [--steps N] [--minutes M] [model/optimizer options]

Reads WORK/corpus/{train,heldout}.txt and WORK/tokenizer/kjv4k.model; writes
WORK/ckpt/model.pt (and WORK/ckpt/model-last.pt on every evaluation).
Training stops after --steps optimizer steps or --minutes of wall time,
whichever comes first; the learning-rate schedule always follows --steps, so
for a reproducible run give --steps and leave --minutes at its default (none).

Each file is tokenized as one stream (text with "\n" between verses, BOS
prepended), exactly as eval_ppl.py and `tern perplexity` read a file. A batch
is --batch windows of --context tokens at uniformly random offsets (numpy
RNG seeded with --seed). Optimizer: AdamW (betas 0.9/0.95, weight decay on the
2-D matrices, not on norms; the tied embedding is decayed too), linear warmup,
then cosine decay to --min-lr-frac of the peak.
"""

import argparse
import dataclasses
import math
import os
import sys
import time

# One OpenMP thread for torch's own kernels and two BLAS threads for the matrix
# products: on the 2-core build machine (shared with compilers) torch with 2
# OpenMP threads was 2-5x slower than this because of spinning thread barriers.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np
import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, TernaryLM  # noqa: E402


def tokenize_file(sp, path):
    text = open(path, encoding="utf-8").read()
    return np.array([1] + sp.encode(text), dtype=np.int64)


@torch.no_grad()
def eval_loss(model, data, context, n_windows=None):
    """Mean NLL over non-overlapping windows of context+1 tokens (fast proxy for ppl)."""
    model.eval()
    total, count = 0.0, 0
    starts = list(range(0, len(data) - context - 1, context))
    if n_windows:
        starts = starts[:n_windows]
    for i in range(0, len(starts), 16):
        xs = np.stack([data[s:s + context] for s in starts[i:i + 16]])
        ys = np.stack([data[s + 1:s + context + 1] for s in starts[i:i + 16]])
        _, loss = model(torch.from_numpy(xs), torch.from_numpy(ys))
        total += loss.item() * ys.size
        count += ys.size
    model.train()
    return total / count


def fmt_time(s):
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/tern-train")
    ap.add_argument("--tokenizer", default=None, help="default WORK/tokenizer/kjv4k.model")
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--minutes", type=float, default=None, help="also stop after this much wall time")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=352)
    ap.add_argument("--blocks", type=int, default=6, help="unique blocks")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--quant", default="bitnet", choices=["bitnet", "paretoq"],
                    help="bitnet: BitLinear (absmean weights, int8 activations); paretoq: per-row SEQ "
                         "ternary weights (weight_clip_val), 16-bit activations")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (BLAS: OPENBLAS_NUM_THREADS, default 2)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=32, help="held-out windows per periodic evaluation")
    ap.add_argument("--out", default=None, help="checkpoint path (default WORK/ckpt/model.pt)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer or os.path.join(args.work, "tokenizer", "kjv4k.model"))
    train = tokenize_file(sp, os.path.join(args.work, "corpus", "train.txt"))
    held = tokenize_file(sp, os.path.join(args.work, "corpus", "heldout.txt"))
    print(f"train tokens {len(train)}, held-out tokens {len(held)}", flush=True)

    c = Config(vocab_size=sp.get_piece_size(), dim=args.dim, ffn=args.ffn, n_blocks=args.blocks, repeat=args.repeat,
               n_heads=args.heads, n_kv_heads=args.kv_heads, context=args.context, quant=args.quant)
    model = TernaryLM(c)
    pc = model.param_counts()
    print(f"config {c}", flush=True)
    print(f"parameters: unique {pc['unique']:,} (embedding {pc['embedding']:,}, blocks {pc['blocks']:,}); "
          f"effective {pc['effective']:,}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.endswith("weight_clip_val")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.endswith("weight_clip_val")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))

    out = args.out or os.path.join(args.work, "ckpt", "model.pt")
    os.makedirs(os.path.dirname(out), exist_ok=True)

    def save(path, step, extra):
        torch.save({"config": dataclasses.asdict(c), "model": model.state_dict(), "step": step, "args": vars(args),
                    "tokens_seen": step * args.batch * args.context, **extra}, path)

    tokens_per_step = args.batch * args.context
    t0 = time.time()
    model.train()
    step = 0
    losses = []
    last_eval = None
    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = rng.integers(0, len(train) - args.context - 1, size=args.batch)
        x = torch.from_numpy(np.stack([train[s:s + args.context] for s in starts]))
        y = torch.from_numpy(np.stack([train[s + 1:s + args.context + 1] for s in starts]))
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        losses.append(loss.item())
        elapsed = time.time() - t0
        if step % args.log_every == 0 or step == 1:
            tps = step * tokens_per_step / elapsed
            eta = (args.steps - step) * elapsed / step
            print(f"step {step}/{args.steps} loss {np.mean(losses[-args.log_every:]):.4f} lr {lr_at(step - 1):.2e} "
                  f"tok/s {tps:.0f} elapsed {fmt_time(elapsed)} eta {fmt_time(eta)}", flush=True)
        out_of_time = args.minutes is not None and elapsed > args.minutes * 60
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            te = time.time()
            hl = eval_loss(model, held, args.context, args.eval_windows)
            last_eval = hl
            t0 += time.time() - te  # evaluation time does not count towards tokens/s
            print(f"eval step {step}: held-out loss {hl:.4f} ppl {math.exp(hl):.2f} "
                  f"(first {args.eval_windows} windows; train loss {np.mean(losses[-50:]):.4f})", flush=True)
            save(out.replace(".pt", "-last.pt"), step, {"heldout_loss": hl})
        if out_of_time:
            print(f"stopping: --minutes {args.minutes} reached at step {step}", flush=True)
            break
    elapsed = time.time() - t0
    save(out, step, {"heldout_loss": last_eval, "train_seconds": elapsed})
    print(f"done: {step} steps, {step * tokens_per_step:,} tokens in {fmt_time(elapsed)} "
          f"({step * tokens_per_step / elapsed:.0f} tok/s); saved {out}", flush=True)


if __name__ == "__main__":
    main()
