#!/usr/bin/env bash
# The benchmark behind docs/PERFORMANCE.md: tern bench on the three reference shapes
# (random ternary weights built in memory, 128-token prompt, 128 generated tokens,
# 1 and 2 threads interleaved twice, 3 repetitions each: on a shared VM figures drift
# minutes apart, so each thread count gets two sets), the batch rows, and the
# per-kernel micro-benchmarks. Run it on an otherwise idle machine.
#   scripts/bench.sh [OUT_DIR]     (default: bench-results/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
mkdir -p "$out"
scripts/build.sh --all >/dev/null  # tern and tern_microbench
{
  echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ)"
  # Against the peers: their figures come from llama-bench / bitnet.cpp with their
  # default KV cache type, f16, so tern runs with an f16 cache too.
  for shape in mobilellm-125m mobilellm-350m bitnet-700m; do
    ./build/tern bench --shape "$shape" -p 128 -n 128 -t 1,2,1,2 -r 3 --kv-type f16
  done
  # The 700m shape with the LM head type llama.cpp's TQ2_0 quantizer gives it (Q6_K).
  ./build/tern bench --shape bitnet-700m --embd-type q6_k -p 128 -n 128 -t 1,2,1,2 -r 3 --kv-type f16
  # Batch generation (issue 7): aggregate tokens/s of B sequences decoded together,
  # with tern's default (exact) f32 cache and with an f16 one.
  for kv in f32 f16; do
    ./build/tern bench --shape mobilellm-125m -p 0 -n 128 -t 1,2 -r 2 --batch 1,4,8,16 --kv-type "$kv"
    ./build/tern bench -m models/tern-kjv.gguf -p 0 -n 64 -t 1,2 -r 2 --batch 1,4,8,16 --kv-type "$kv"
  done
  # Issue 7's ratio, B = 8 over B = 1 with the same threads, over five runs each.
  scripts/batch-speedup.sh 5 --shape mobilellm-125m -n 128 --kv-type f16
  scripts/batch-speedup.sh 5 -m models/tern-kjv.gguf -n 64
} | tee "$out/tern-bench.md"
./build/tern_microbench --benchmark_min_time=0.2 --benchmark_format=console | tee "$out/microbench.txt"
