#!/usr/bin/env bash
# Configures and builds tern (Release) into build/ (through ccache when it is
# installed), printing only the result.
#   scripts/build.sh               the `tern` executable only (what `tern run` needs)
#   scripts/build.sh --all [-D..]  every target: library, tests, micro-benchmarks
# Extra -D options go to cmake (scripts/test.sh passes -DTERN_WERROR=ON). The full
# compiler output is in build/build.log; on failure its tail is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(--target tern)
if [[ "${1:-}" == "--all" ]]; then
  targets=()
  shift
fi
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
mkdir -p build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${LAUNCHER[@]}" "$@" >build/configure.log 2>&1 ||
  { tail -n 40 build/configure.log >&2; echo "tern: cmake configure failed; see build/configure.log" >&2; exit 1; }
if ! cmake --build build -j"$(nproc)" "${targets[@]}" >build/build.log 2>&1; then
  grep -E 'error|warning' build/build.log | head -n 40 >&2 || tail -n 40 build/build.log >&2
  echo "tern: build failed; the full output is in build/build.log" >&2
  exit 1
fi
echo "tern: built ${targets[*]:-everything} in build/ (log: build/build.log)"
