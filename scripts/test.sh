#!/usr/bin/env bash
# The one test command: installs what is missing, checks the code's format, builds everything with warnings as
# errors (-DTERN_WERROR=ON), runs every test; then the Slurm recipe on a one-node Slurm
# (scripts/slurm-test.sh, about a minute), the ARM64 cross build's kernel and real-model
# tests under qemu (scripts/test-arm64.sh), the same suite under ASan + UBSan
# (build-asan/, clang) and every fuzz target for a short time on its seed corpus
# (scripts/fuzz.sh). TERN_TEST_QUICK=1 skips the last four.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
step() { printf '\n==== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
timed() { local t0=$SECONDS; "$@"; printf '==== took %d s\n' $((SECONDS - t0)); }

step "Code format (scripts/check-format.sh)"
timed scripts/check-format.sh

step "Release build and tests"
timed scripts/build.sh --all -DTERN_WERROR=ON
(cd build && timed ctest --output-on-failure -j"$(nproc)")
[ "${TERN_TEST_QUICK:-0}" = 1 ] && exit 0

step "Slurm job-array recipe on a one-node Slurm (scripts/slurm-test.sh, needs root; TERN_SKIP_SLURM=1 skips)"
if [ "${TERN_SKIP_SLURM:-0}" != 1 ]; then timed scripts/slurm-test.sh build; fi

step "ARM64 cross build, kernel and real-model tests under qemu (TERN_SKIP_ARM64=1 skips)"
if [ "${TERN_SKIP_ARM64:-0}" != 1 ]; then timed scripts/test-arm64.sh; fi

# One clang build serves both: the whole suite under ASan + UBSan, and the fuzz targets
# (TERN_FUZZ adds libFuzzer's coverage instrumentation, which the tests do not mind).
step "ASan + UBSan build (build-asan: clang, TERN_SANITIZE + TERN_FUZZ)"
CXX_CLANG=$(command -v clang++-14 || command -v clang++)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_CLANG" -DTERN_SANITIZE=ON \
  -DTERN_FUZZ=ON "${LAUNCHER[@]}" >/dev/null
timed cmake --build build-asan -j"$(nproc)"

step "Whole test suite under ASan + UBSan"
(cd build-asan && timed ctest --output-on-failure -j"$(nproc)")

step "Fuzz targets, ${TERN_FUZZ_SECONDS:-20} s each on their seed corpora"
TERN_FUZZ_BUILD=build-asan timed scripts/fuzz.sh "${TERN_FUZZ_SECONDS:-20}"
