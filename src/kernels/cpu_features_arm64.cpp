// ARM64 feature detection (Linux): the kernel's HWCAP bits say which instructions user
// code may run; the CPU's name comes from its MIDR (implementer and part number), which
// Linux exposes in /proc/cpuinfo and lets user code read directly (HWCAP_CPUID).
#include <sys/auxv.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "kernels/cpu_features.h"

#include <fmt/format.h>

namespace tern {
namespace {

// Linux's arm64 hwcap bits (asm/hwcap.h), spelled out in case the libc headers predate them.
constexpr unsigned long kHwcapAsimd = 1ul << 1;
constexpr unsigned long kHwcapCpuid = 1ul << 11;
constexpr unsigned long kHwcapAsimddp = 1ul << 20;
constexpr unsigned long kHwcap2I8mm = 1ul << 13;

struct Midr {
  unsigned implementer = 0, variant = 0, part = 0, revision = 0;
};

// Arm Ltd. (0x41) cores by part number, from Arm's technical reference manuals.
const char* arm_part_name(unsigned part) {
  switch (part) {
    case 0xd03: return "Cortex-A53";
    case 0xd04: return "Cortex-A35";
    case 0xd05: return "Cortex-A55";
    case 0xd07: return "Cortex-A57";
    case 0xd08: return "Cortex-A72";
    case 0xd09: return "Cortex-A73";
    case 0xd0a: return "Cortex-A75";
    case 0xd0b: return "Cortex-A76";
    case 0xd0c: return "Neoverse-N1";
    case 0xd0d: return "Cortex-A77";
    case 0xd40: return "Neoverse-V1";
    case 0xd41: return "Cortex-A78";
    case 0xd44: return "Cortex-X1";
    case 0xd46: return "Cortex-A510";
    case 0xd47: return "Cortex-A710";
    case 0xd48: return "Cortex-X2";
    case 0xd49: return "Neoverse-N2";
    case 0xd4f: return "Neoverse-V2";
    case 0xd80: return "Cortex-A520";
    case 0xd81: return "Cortex-A720";
    case 0xd82: return "Cortex-X4";
    default: return nullptr;
  }
}

const char* implementer_name(unsigned implementer) {
  switch (implementer) {
    case 0x41: return "Arm";
    case 0x42: return "Broadcom";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x61: return "Apple";
    case 0xc0: return "Ampere";
    default: return nullptr;
  }
}

std::string describe(const Midr& m) {
  const char* vendor = implementer_name(m.implementer);
  const char* part = m.implementer == 0x41 ? arm_part_name(m.part) : nullptr;
  const std::string id =
      fmt::format("r{}p{}, MIDR implementer 0x{:02x} part 0x{:03x}", m.variant, m.revision, m.implementer, m.part);
  if (part != nullptr) return fmt::format("{} {} ({})", vendor, part, id);
  if (vendor != nullptr) return fmt::format("{} ARM64 CPU ({})", vendor, id);
  return fmt::format("ARM64 CPU ({})", id);
}

// The first core's MIDR fields from /proc/cpuinfo ("CPU implementer : 0x41", ...).
bool midr_from_cpuinfo(Midr& m) {
  std::ifstream in("/proc/cpuinfo");
  bool have_implementer = false, have_part = false;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    unsigned value = 0;
    try {
      value = static_cast<unsigned>(std::stoul(line.substr(colon + 1), nullptr, 0));
    } catch (...) {
      continue;
    }
    if (key == "CPU implementer" && !have_implementer) m.implementer = value, have_implementer = true;
    else if (key == "CPU variant" && !have_part) m.variant = value;
    else if (key == "CPU part" && !have_part) m.part = value, have_part = true;
    else if (key == "CPU revision" && !m.revision) m.revision = value;
  }
  return have_implementer && have_part;
}

// MIDR_EL1 read directly: Linux emulates the access for user code when HWCAP_CPUID is
// set (so does qemu's user mode, which shows the host's /proc/cpuinfo instead).
Midr midr_register() {
  uint64_t v = 0;
  asm volatile("mrs %0, MIDR_EL1" : "=r"(v));
  return {static_cast<unsigned>((v >> 24) & 0xff), static_cast<unsigned>((v >> 20) & 0xf),
          static_cast<unsigned>((v >> 4) & 0xfff), static_cast<unsigned>(v & 0xf)};
}

}  // namespace

CpuFeatures detect_cpu_features() {
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  CpuFeatures f;
  f.asimd = (hwcap & kHwcapAsimd) != 0;
  f.asimddp = (hwcap & kHwcapAsimddp) != 0;
  f.i8mm = (hwcap2 & kHwcap2I8mm) != 0;
  Midr m;
  if (midr_from_cpuinfo(m)) f.name = describe(m);
  else if (hwcap & kHwcapCpuid) f.name = describe(midr_register());
  else f.name = "ARM64 CPU";
  return f;
}

}  // namespace tern
