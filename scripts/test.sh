#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything with warnings as
# errors, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --all -DTERN_WERROR=ON
cd build && ctest --output-on-failure -j"$(nproc)"
