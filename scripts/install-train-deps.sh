#!/usr/bin/env bash
# Installs the Debian packages needed to train the tern-kjv model from scratch
# (scripts/train-model.sh). Only what is missing is installed; safe to rerun.
set -euo pipefail
PACKAGES=(
  python3 python3-torch python3-numpy python3-sentencepiece
  libopenblas0-pthread  # without it torch uses the reference BLAS (~5x slower)
  bible-kjv bible-kjv-text
)
"$(dirname "$0")/apt-install-missing.sh" "${PACKAGES[@]}"
