#!/usr/bin/env bash
# Cross-builds tern for ARM64 (build-arm64/) and runs the kernel tests and the real-model
# greedy-text tests under qemu-aarch64 once per ARM instruction set level:
#   neon     qemu -cpu cortex-a53    (ARMv8.0: Advanced SIMD only)
#   dotprod  qemu -cpu neoverse-n1   (ARMv8.2: + SDOT)
#   i8mm     qemu -cpu max           (+ SMMLA)
# each with TERN_ISA forcing that level (and the emulated CPU refusing a higher one).
# Installs what is missing: the cross compiler, qemu-user and Debian's arm64 multiarch
# libraries. libsentencepiece0 and libsentencepiece-dev are not multiarch (installing
# the arm64 library would remove the host's), so the arm64 library is downloaded and
# unpacked into build-arm64/deps instead, and linked with the host's headers through a
# pkg-config file written there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
fi
scripts/apt-install-missing.sh g++-aarch64-linux-gnu qemu-user libsentencepiece-dev libcli11-dev nlohmann-json3-dev \
  libfmt-dev:arm64 libspdlog-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64

deps="$root/build-arm64/deps"
libdir="$deps/root/usr/lib/aarch64-linux-gnu"
if [ ! -e "$libdir/libsentencepiece.so.0" ]; then
  version=$(dpkg-query -W -f='${Version}' libsentencepiece-dev)  # the same source upload for both
  mkdir -p "$deps/download"
  (cd "$deps/download" && apt-get download -q "libsentencepiece0:arm64=$version" 2>/dev/null ||
     { apt-get update -qq && apt-get download -q "libsentencepiece0:arm64=$version"; })
  dpkg-deb -x "$deps"/download/libsentencepiece0_*_arm64.deb "$deps/root"
fi
ln -sf libsentencepiece.so.0 "$libdir/libsentencepiece.so"
mkdir -p "$deps/pkgconfig"
cat >"$deps/pkgconfig/sentencepiece.pc" <<PC
libdir=$libdir
Name: sentencepiece
Description: arm64 libsentencepiece0 (unpacked) with the host's headers
Version: $(dpkg-query -W -f='${Version}' libsentencepiece-dev | cut -d- -f1)
Libs: -L\${libdir} -lsentencepiece
Cflags: -I/usr/include
PC

PKG_CONFIG_PATH="$deps/pkgconfig" cmake -S . -B build-arm64 -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
cmake --build build-arm64 -j"$(nproc)" --target tern tern_tests

# The kernels against the scalar reference, and greedy text on the real models, once per
# level: that level's instantiations only (a lower CPU has no higher table to skip).
# Tests that start the tern program are left to the x86 run (without binfmt_misc an
# ARM64 child process cannot start); these run inside the test binary.
total=$SECONDS
for level in neon:cortex-a53 dotprod:neoverse-n1 i8mm:max; do
  isa=${level%%:*} cpu=${level#*:}
  echo "== $isa (qemu-aarch64 -cpu $cpu, TERN_ISA=$isa)"
  start=$SECONDS
  (cd build-arm64 && TERN_ISA=$isa qemu-aarch64 -cpu "$cpu" ./tern_tests --gtest_brief=1 \
    --gtest_filter="*SimdKernels.*/$isa:*IsaVsScalar.*/$isa:RealModel.GreedyText*:SelectedIsa.*")
  echo "== $isa: $((SECONDS - start)) s"
done
echo "== ARM64 tests under qemu: $((SECONDS - total)) s"
