# Cross build for 64-bit ARM Linux on an x86-64 Debian host:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Compilers from g++-aarch64-linux-gnu; libraries from Debian's arm64 multiarch packages
# (libfmt-dev:arm64, ...), which install into /usr/lib/aarch64-linux-gnu beside the host's.
# scripts/test-arm64.sh installs them and runs the result under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# No find root: Debian's multiarch layout keeps arm64 libraries and their CMake packages
# in /usr/lib/aarch64-linux-gnu, which CMAKE_LIBRARY_ARCHITECTURE puts first; headers
# (the same for every architecture) and programs (python3 for the test references)
# are the host's.
# pkg-config: the arm64 .pc files only (plus the directory the caller names in
# PKG_CONFIG_PATH, where scripts/test-arm64.sh describes sentencepiece).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
# Emulated test runs: ctest and gtest discovery start target programs through qemu. The
# arm64 C library is the multiarch libc6:arm64 (a dependency of the packages above, with
# its loader at /lib/ld-linux-aarch64.so.1): qemu's -L /usr/aarch64-linux-gnu would mix
# in the cross toolchain's older copy, under which starting a thread hangs.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
