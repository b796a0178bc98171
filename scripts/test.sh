#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything with warnings as
# errors, runs every test; then the ARM64 cross build's kernel and real-model tests
# under qemu (scripts/test-arm64.sh; TERN_SKIP_ARM64=1 leaves them out of a local run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --all -DTERN_WERROR=ON
(cd build && ctest --output-on-failure -j"$(nproc)")
if [ "${TERN_SKIP_ARM64:-0}" != 1 ]; then scripts/test-arm64.sh; fi
