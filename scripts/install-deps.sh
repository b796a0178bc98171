#!/usr/bin/env bash
# Installs the Debian packages tern needs to build, test and run its tools.
# Only what is missing is installed; safe to run repeatedly.
set -euo pipefail
PACKAGES=(
  cmake g++ make pkg-config
  libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  libsentencepiece-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev
  python3 python3-numpy python3-sentencepiece python3-jinja2
  g++-aarch64-linux-gnu qemu-user  # the ARM64 cross build (scripts/test-arm64.sh adds its arm64 libraries)
  clang-14 libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer targets (issue 15)
  clang-format-14  # scripts/check-format.sh
  slurmctld slurmd slurm-client munge  # scripts/slurm-test.sh: the Slurm recipe on a one-node Slurm (~4 MB)
)
"$(dirname "$0")/apt-install-missing.sh" "${PACKAGES[@]}"
