#!/usr/bin/env bash
# Installs the Debian packages tern needs to build, test and run its tools.
# Only what is missing is installed; safe to run repeatedly.
set -euo pipefail
PACKAGES=(
  cmake g++ make pkg-config
  libeigen3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  libsentencepiece-dev
  python3 python3-numpy python3-sentencepiece
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
