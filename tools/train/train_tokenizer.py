#!/usr/bin/python3
"""Trains the SentencePiece BPE tokenizer on the training split.

Usage: tools/train/train_tokenizer.py [--work /tmp/tern-train] [--vocab 4096]

Reads WORK/corpus/train.txt, writes WORK/tokenizer/kjv4k.model (+ .vocab).

Settings: model_type=bpe, byte_fallback, identity normalization (tern does not
apply NFKC), split_digits, character_coverage 1.0, unk 0 / bos 1 / eos 2 / no pad,
num_threads 1 (deterministic).

The model is trained on (and evaluated with) whole files where verses are
separated by newlines, so the trainer sees groups of LINES_PER_SENTENCE verses
joined by "\n" as one "sentence": newline becomes an ordinary piece and the
pieces at the start of a line are learnt, instead of a byte-fallback token for
every line break.
"""

import argparse
import os

import sentencepiece as spm

LINES_PER_SENTENCE = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/tern-train")
    ap.add_argument("--vocab", type=int, default=4096)
    args = ap.parse_args()

    lines = open(os.path.join(args.work, "corpus", "train.txt"), encoding="utf-8").read().split("\n")
    lines = [l for l in lines if l]
    sentences = ["\n".join(lines[i:i + LINES_PER_SENTENCE]) for i in range(0, len(lines), LINES_PER_SENTENCE)]
    out_dir = os.path.join(os.path.abspath(args.work), "tokenizer")
    os.makedirs(out_dir, exist_ok=True)
    prefix = os.path.join(out_dir, "kjv4k")
    # The trainer records model_prefix inside the .model file: a relative prefix
    # (from inside out_dir) keeps the file byte-identical whatever --work is.
    cwd = os.getcwd()
    os.chdir(out_dir)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_prefix="kjv4k",
        model_type="bpe",
        vocab_size=args.vocab,
        byte_fallback=True,
        normalization_rule_name="identity",
        split_digits=True,
        character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1,
        max_sentence_length=16384,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    os.chdir(cwd)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    text = open(os.path.join(args.work, "corpus", "train.txt"), encoding="utf-8").read()
    n = len(sp.encode(text))
    print(f"{prefix}.model: {sp.get_piece_size()} pieces; train split = {n} tokens "
          f"({len(text.encode('utf-8')) / n:.2f} bytes/token)")
    print("example:", sp.encode_as_pieces("In the beginning God created the heaven and the earth.\nAnd the earth"))


if __name__ == "__main__":
    main()
