#!/usr/bin/env python3
"""Turn `tern bench --output json` results into PNG charts.

    ./build/tern bench --shape mobilellm-125m --compare f16 --output json > a.json
    /usr/bin/python3 tools/plot_bench.py a.json [b.json ...] -o docs/bench.png

One row of panels per test (prompt processing, generation): tokens/s by model and
thread count, and tokens per joule (or, without energy counters, tokens per CPU-second,
labelled so), ternary and baseline side by side. Needs Debian's python3-matplotlib.
"""
import argparse
import json
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_rows(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            text = f.read().strip()
        rows += json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines()]
    return rows


def efficiency(row):
    """Tokens per joule when measured or estimated, else tokens per CPU-second."""
    if "tokens_per_joule" in row:
        return row["tokens_per_joule"], "tokens / joule" + (" (estimated)" if row.get("estimated") else "")
    return 1.0 / row["cpu_seconds_per_token"], "tokens / CPU-s (no counters)"


def bar_panel(ax, rows, value, ylabel):
    groups = defaultdict(dict)  # "model, weights" -> threads -> value
    for r in rows:
        groups[f'{r["model"]}\n{r["weights"]}'][r["threads"]] = value(r)
    threads = sorted({t for g in groups.values() for t in g})
    width = 0.8 / max(1, len(threads))
    for i, t in enumerate(threads):
        xs = [j + i * width for j in range(len(groups))]
        ax.bar(xs, [g.get(t, 0) for g in groups.values()], width, label=f"{t} thread{'s' if t > 1 else ''}")
    ax.set_xticks([j + width * (len(threads) - 1) / 2 for j in range(len(groups))])
    ax.set_xticklabels(list(groups), fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+")
    p.add_argument("-o", "--out", default="bench.png")
    a = p.parse_args()
    rows = load_rows(a.results)
    tests = sorted({r["test"] for r in rows})
    fig, axes = plt.subplots(len(tests), 2, figsize=(11, 3.6 * len(tests)), squeeze=False)
    for i, test in enumerate(tests):
        sub = [r for r in rows if r["test"] == test]
        bar_panel(axes[i][0], sub, lambda r: r["tokens_per_second"], f"{test}: tokens / s")
        label = efficiency(sub[0])[1]
        bar_panel(axes[i][1], sub, lambda r: efficiency(r)[0], f"{test}: {label}")
    cpu = rows[0].get("cpu", "").strip()
    fig.suptitle(f"tern bench on {cpu} (commit {rows[0].get('commit', '?')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
