#!/usr/bin/python3
"""Dumps the King James Bible from the Debian package bible-kjv-text into plain text.

Usage: tools/train/prepare_corpus.py [--work /tmp/tern-train]

Uses the `bible` program (Debian package bible-kjv) with pretty-printing off
(-f), which prints one verse per line as "Ref text", e.g. "Ge1:1 In the beginning ...".
The reference is dropped, runs of spaces are collapsed, and the text is written
as UTF-8 (it is pure ASCII), one verse per line, in canonical book order:

  WORK/corpus/kjv.txt       all 31102 verses
  WORK/corpus/train.txt     Genesis .. Colossians (29561 verses)
  WORK/corpus/heldout.txt   1 Thessalonians .. Revelation (whole books, contiguous,
                            1541 verses, ~5% of the lines), never used in training

Deterministic: the same package version gives byte-identical files.
The KJV text is in the public domain (see /usr/share/doc/bible-kjv-text/copyright).
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys

HELDOUT_FIRST_BOOK = "1Th"  # the `bible` program's abbreviation of 1 Thessalonians


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/tern-train")
    args = ap.parse_args()

    out_dir = os.path.join(args.work, "corpus")
    os.makedirs(out_dir, exist_ok=True)
    raw = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], check=True, capture_output=True,
                         env=dict(os.environ, COLUMNS="80")).stdout.decode("ascii")
    ref = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")
    books, verses = [], []
    for line in raw.splitlines():
        m = ref.match(line)
        if not m:
            sys.exit(f"unexpected line from bible: {line!r}")
        text = " ".join(m.group(4).split())
        books.append(m.group(1))
        verses.append(text)
    if len(verses) != 31102:
        sys.exit(f"expected 31102 verses, got {len(verses)}")
    split = books.index(HELDOUT_FIRST_BOOK)

    def write(name, lines):
        path = os.path.join(out_dir, name)
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with open(path, "wb") as f:
            f.write(data)
        print(f"{path}: {len(lines)} lines, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}")

    write("kjv.txt", verses)
    write("train.txt", verses[:split])
    write("heldout.txt", verses[split:])
    print(f"held out: {books[split]} .. {books[-1]} ({len(verses) - split} of {len(verses)} verses, "
          f"{100 * (len(verses) - split) / len(verses):.2f}%)")


if __name__ == "__main__":
    main()
