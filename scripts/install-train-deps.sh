#!/usr/bin/env bash
# Installs the Debian packages needed to train the tern-kjv model from scratch
# (scripts/train-model.sh). Only what is missing is installed; safe to rerun.
set -euo pipefail
PACKAGES=(
  python3 python3-torch python3-numpy python3-sentencepiece
  libopenblas0-pthread  # without it torch uses the reference BLAS (~5x slower)
  bible-kjv bible-kjv-text
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
