#!/usr/bin/env bash
# Configures and builds tern (Release) into build/ (through ccache when it is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${LAUNCHER[@]}" >/dev/null
cmake --build build -j"$(nproc)"
