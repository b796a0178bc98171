#!/usr/bin/env python3
"""Merges the output files of a sharded `tern batch` run and checks that every request of
the input appears exactly once (result or error record).

    scripts/merge-shards.py INPUT PART... > merged.jsonl

Ids: "id" (tern's format; the 1-based line number when absent), "custom_id" (OpenAI
Batch API format, detected from the first line as tern batch does). Exits 1, naming the
ids, when one is missing, duplicated or unknown."""
import collections
import json
import sys


def input_ids(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    nonblank = [(n, l) for n, l in enumerate(lines, 1) if l.strip()]
    if not nonblank:
        return "id", []
    try:
        first = json.loads(nonblank[0][1])
    except ValueError:
        first = None
    openai = isinstance(first, dict) and "custom_id" in first and "body" in first
    key = "custom_id" if openai else "id"
    ids = []
    for n, line in nonblank:
        try:
            j = json.loads(line)
        except ValueError:
            j = None
        if isinstance(j, dict) and key in j:
            ids.append(json.dumps(j[key]))
        else:
            ids.append(json.dumps(None if openai else n))
    return key, ids


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    key, expected = input_ids(sys.argv[1])
    seen = collections.Counter()
    errors = 0
    for part in sys.argv[2:]:
        with open(part, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                seen[json.dumps(record.get(key))] += 1
                failed = record.get("error") is not None or (
                    key == "custom_id" and (record.get("response") or {}).get("status_code") != 200)
                errors += failed
                sys.stdout.write(line)
    want = collections.Counter(expected)
    missing = sorted(i for i in want if seen[i] < want[i])
    twice = sorted(i for i in seen if i in want and seen[i] > want[i])
    unknown = sorted(i for i in seen if i not in want)
    total = sum(seen.values())
    print(f"merge-shards: {len(sys.argv) - 2} parts, {total} records for {len(expected)} requests, "
          f"{errors} error records; missing {len(missing)}, duplicated {len(twice)}, unknown {len(unknown)}",
          file=sys.stderr)
    for name, ids in (("missing", missing), ("duplicated", twice), ("unknown", unknown)):
        if ids:
            print(f"merge-shards: {name}: {' '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}", file=sys.stderr)
    sys.exit(1 if missing or twice or unknown else 0)


if __name__ == "__main__":
    main()
