#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan/UBSan) in build-fuzz/ and runs
# each for SECONDS (default 60) on its seed corpus (tests/fuzz/make_corpus.py, from
# ../shared) plus what earlier runs found. Prints executions and coverage per target;
# exits non-zero if any target found a crash, leak, timeout or memory blow-up (the
# input is saved as build-fuzz/artifacts/<target>-crash-...).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 20 gguf batch_line
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
CXX_CLANG=${CXX_CLANG:-$(command -v clang++-14 || command -v clang++)}
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# TERN_FUZZ_BUILD: an existing TERN_FUZZ=ON build to reuse (scripts/test.sh passes build-asan).
B=${TERN_FUZZ_BUILD:-build-fuzz}
if [ ! -f $B/CMakeCache.txt ]; then
  cmake -S . -B $B -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_CLANG" -DTERN_FUZZ=ON \
    -DTERN_BUILD_TESTS=OFF "${LAUNCHER[@]}" >/dev/null
fi
cmake --build $B -j"$(nproc)" --target fuzz_targets >/dev/null

/usr/bin/python3 tests/fuzz/make_corpus.py $B/seeds >/dev/null
declare -A DICT=([gguf]=gguf [safetensors]=safetensors [hf_folder]=json [bitllama2c]=bitllama2c
                 [spm_model]=spm_model [tokenizer]=tokenizer [batch_line]=json)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(gguf safetensors hf_folder bitllama2c spm_model tokenizer batch_line)
mkdir -p $B/artifacts $B/logs
failed=0
printf '%-12s %10s %8s %8s %8s  %s\n' target execs exec/s cov ft result
for t in "${TARGETS[@]}"; do
  mkdir -p $B/corpus/$t
  log=$B/logs/$t.log
  rc=0
  # -rss_limit_mb: an input that makes tern take 2 GB is a finding (issue 15's rule).
  TMPDIR=${TMPDIR:-/tmp} $B/fuzz_$t $B/corpus/$t $B/seeds/$t -dict=tests/fuzz/dict/${DICT[$t]}.dict \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix=$B/artifacts/$t- >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  speed=$(grep -o 'stat::average_exec_per_sec: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  result=ok
  if [ $rc -ne 0 ]; then result="FINDING (exit $rc, see $log)"; failed=1; fi
  printf '%-12s %10s %8s %8s %8s  %s\n' "$t" "$execs" "$speed" "$cov" "$ft" "$result"
done
exit $failed
