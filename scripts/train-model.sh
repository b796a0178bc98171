#!/usr/bin/env bash
# Trains models/tern-kjv.gguf from nothing: a small MobileLLM-LS style ternary
# (BitNet b1.58) model trained from scratch on the King James Bible from the
# Debian package bible-kjv-text. See models/README.md.
#
# Usage: scripts/train-model.sh [WORK_DIR]     (default /tmp/tern-train)
# Environment: STEPS (default below), SKIP_DEPS=1 to skip the apt step,
#   SKIP_TRAIN=1 to reuse WORK_DIR's corpus, tokenizer and ckpt/model.pt and only
#   export, convert, evaluate and sample (e.g. after a training run in the background).
#
# Writes build outputs to WORK_DIR; into the repository it writes only
# models/tern-kjv.gguf and models/heldout-excerpt.txt. About 35-70 minutes on
# 2 CPU cores. Seeded and single-process; torch's CPU kernels are not
# guaranteed bit-reproducible across machines/thread counts, so the result can
# differ in the last digits elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/tern-train}
STEPS=${STEPS:-900}
PY=/usr/bin/python3
T=tools/train
mkdir -p "$WORK" models

[ "${SKIP_DEPS:-0}" = 1 ] || scripts/install-train-deps.sh

if [ "${SKIP_TRAIN:-0}" != 1 ]; then
  echo "== corpus"
  $PY $T/prepare_corpus.py --work "$WORK"
  echo "== tokenizer"
  $PY $T/train_tokenizer.py --work "$WORK"
  echo "== training ($STEPS steps; log: $WORK/train.log)"
  $PY $T/train.py --work "$WORK" --steps "$STEPS" --seed 1234 \
    --dim 128 --ffn 352 --blocks 6 --repeat 2 --heads 4 --kv-heads 2 --context 256 \
    --batch 8 --lr 2e-3 --warmup 100 2>&1 | tee "$WORK/train.log"
fi
echo "== export"
$PY $T/export_hf.py --work "$WORK" --out "$WORK/hf"
if [ ! -x build/tern ]; then
  scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j2 --target tern
fi
./build/tern convert "$WORK/hf" -o models/tern-kjv.gguf
ls -l models/tern-kjv.gguf

echo "== held-out excerpt"
# The first 30 KB of the held-out split (1 Thessalonians ..), cut at a line end.
$PY - "$WORK/corpus/heldout.txt" models/heldout-excerpt.txt <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
cut = data.rindex(b"\n", 0, 30000) + 1
open(sys.argv[2], "wb").write(data[:cut])
lines = data[:cut].count(b"\n")
print(f"{sys.argv[2]}: {cut} bytes, {lines} lines")
EOF

echo "== held-out perplexity (torch)"
$PY $T/eval_ppl.py models/heldout-excerpt.txt --work "$WORK" --context 256 --stride 128
$PY $T/eval_ppl.py "$WORK/corpus/heldout.txt" --work "$WORK" --context 256 --stride 128
echo "== unigram baseline"
$PY $T/eval_ppl.py models/heldout-excerpt.txt --work "$WORK" --unigram "$WORK/corpus/train.txt"
$PY $T/eval_ppl.py "$WORK/corpus/heldout.txt" --work "$WORK" --unigram "$WORK/corpus/train.txt"

echo "== samples (torch)"
$PY $T/greedy.py "In the beginning" "And the LORD said unto Moses" "Blessed are the" -n 40 --work "$WORK"
$PY $T/greedy.py "And it came to pass" -n 60 --temperature 0.8 --seed 1 --work "$WORK"
echo "== samples (tern, greedy; should match the torch greedy text above)"
for p in "In the beginning" "And the LORD said unto Moses" "Blessed are the"; do
  ./build/tern run -m models/tern-kjv.gguf -p "$p" -n 40 --temp 0 -t 1 2>/dev/null || true
  echo
done
