#!/usr/bin/python3
"""Tables of scripts/bench-peers.sh's results: tokens/s per shape, engine and cell
(median over the rounds, lowest-highest), then each tern build against the best peer.

Usage: tools/peers/peer_table.py DIR TERN_NAME...   (DIR holds ROUND.SHAPE.ENGINE.json)
Each file is one engine's JSON: `tern bench --output json` rows (test "pp128" / "tg128",
threads, tokens_per_second) or llama-bench's (n_prompt, n_gen, n_threads, avg_ts).
"""

import json
import os
import statistics
import sys
from collections import defaultdict

SHAPE_ORDER = ["mobilellm-125m", "mobilellm-350m", "bitnet-700m"]


def cells_of(path):
    """{(test, threads): tokens/s} of one engine's run."""
    with open(path) as f:
        rows = json.load(f)
    cells = {}
    for row in rows:
        if "tokens_per_second" in row:  # tern bench
            cells[(row["test"], row["threads"])] = row["tokens_per_second"]
        else:  # llama-bench
            test = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
            cells[(test, row["n_threads"])] = row["avg_ts"]
    return cells


def fmt(values):
    if not values:
        return "-"
    m = statistics.median(values)
    digits = 0 if m >= 100 else 1
    text = f"{m:.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
    return text


def main():
    out_dir, terns = sys.argv[1], sys.argv[2:]
    runs = defaultdict(lambda: defaultdict(list))  # (shape, engine) -> cell -> [tokens/s per round]
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".json"):
            continue
        _, shape, engine = name[: -len(".json")].split(".", 2)
        try:
            found = cells_of(os.path.join(out_dir, name))
        except (ValueError, KeyError) as e:  # a run cut short: no cells from it
            print(f"peer_table: skipping {name}: {e}", file=sys.stderr)
            continue
        for cell, value in found.items():
            runs[(shape, engine)][cell].append(value)
    cells = [("pp128", 1), ("pp128", 2), ("tg128", 1), ("tg128", 2)]
    header = "| {} | pp128 1t | pp128 2t | tg128 1t | tg128 2t |\n|---|---:|---:|---:|---:|"
    shapes = sorted({s for s, _ in runs}, key=lambda s: SHAPE_ORDER.index(s) if s in SHAPE_ORDER else 99)

    print("\nAll engines, tokens/s, median over the rounds (lowest-highest):\n")
    print(header.format("shape, engine"))
    for shape in shapes:
        engines = sorted((e for s, e in runs if s == shape), key=lambda e: (e not in terns, e))
        for engine in engines:
            print(f"| {shape} {engine} | " + " | ".join(fmt(runs[(shape, engine)][c]) for c in cells) + " |")

    for tern in terns:
        if not any(e == tern for _, e in runs):
            continue
        print(f"\n{tern} against the best peer in each cell (median tokens/s; ratio):\n")
        print(header.format("shape"))
        for shape in shapes:
            row = []
            for cell in cells:
                mine = runs[(shape, tern)][cell]
                peers = [(statistics.median(v[cell]), e) for (s, e), v in runs.items()
                         if s == shape and e not in terns and v[cell]]
                if not mine or not peers:
                    row.append("-")
                    continue
                best, who = max(peers)
                m = statistics.median(mine)
                row.append(f"{m:.0f} / {best:.0f} {who} **{m / best:.2f}x**")
            print(f"| {shape} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
