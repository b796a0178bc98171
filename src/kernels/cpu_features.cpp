#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdlib>
#include <fstream>
#include <string>

#include "tern/error.h"

namespace tern {

#if defined(__x86_64__) || defined(__i386__)
namespace {

std::string cpu_brand() {
  unsigned regs[12] = {};
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) == 0 || eax < 0x80000004) return "unknown CPU";
  for (unsigned i = 0; i < 3; ++i)
    __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  std::string brand(reinterpret_cast<const char*>(regs), sizeof regs);
  brand = brand.c_str();  // stop at the first NUL
  const auto first = brand.find_first_not_of(' ');
  if (first == std::string::npos) return "unknown CPU";
  return brand.substr(first, brand.find_last_not_of(' ') - first + 1);
}

}  // namespace

CpuFeatures detect_cpu_features() {
  __builtin_cpu_init();
  CpuFeatures f;
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = false;
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) f.f16c = (ecx & bit_F16C) != 0;
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512vbmi = __builtin_cpu_supports("avx512vbmi");
  f.gfni = __builtin_cpu_supports("gfni");
  f.name = cpu_brand();
  return f;
}
#elif !defined(__aarch64__)
// Neither x86 nor ARM64 (cpu_features_arm64.cpp): the scalar kernels only.
CpuFeatures detect_cpu_features() { return CpuFeatures{.name = "unknown CPU"}; }
#endif

namespace {

// A sysfs cache size such as "32768K" or "32M", in bytes (0 if unreadable).
int64_t read_cache_size(const std::string& path) {
  std::ifstream in(path);
  int64_t value = 0;
  char unit = 0;
  if (!(in >> value)) return 0;
  in >> unit;
  return unit == 'K' ? value << 10 : unit == 'M' ? value << 20 : unit == 'G' ? value << 30 : value;
}

}  // namespace

CacheSizes detect_cache_sizes() {
  CacheSizes sizes;
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), type_file(dir + "type");
    int level = 0;
    std::string type;
    if (!(level_file >> level) || !(type_file >> type) || type == "Instruction") continue;
    const int64_t bytes = read_cache_size(dir + "size");
    if (level == 2) sizes.l2_bytes = bytes;
    if (level >= 2 && bytes > sizes.last_level_bytes) sizes.last_level_bytes = bytes;
  }
  return sizes;
}

bool isa_supported(Isa isa, const CpuFeatures& c) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return c.avx2 && c.fma && c.f16c;
    case Isa::Avx512:
      return c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512vnni && c.avx512vbmi && c.gfni && c.fma &&
             c.f16c;
    case Isa::Neon: return c.asimd;
    case Isa::Dotprod: return c.asimd && c.asimddp;
    case Isa::I8mm: return c.asimd && c.asimddp && c.i8mm;  // its one-token product is the dotprod one
  }
  return false;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
    case Isa::Dotprod: return "dotprod";
    case Isa::I8mm: return "i8mm";
  }
  return "unknown";
}

Isa select_isa() {
  const CpuFeatures cpu = detect_cpu_features();
  const char* forced = std::getenv("TERN_ISA");
  if (forced != nullptr && *forced != '\0') {
    for (Isa isa : kAllIsas) {
      if (isa_name(isa) != forced) continue;
      if (!isa_supported(isa, cpu)) fail("TERN_ISA={}: this CPU ({}) does not support it", forced, cpu.name);
      return isa;
    }
    fail("TERN_ISA={} is not one of scalar, avx2, avx512, neon, dotprod, i8mm", forced);
  }
  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::I8mm, Isa::Dotprod, Isa::Neon})
    if (isa_supported(isa, cpu)) return isa;
  return Isa::Scalar;
}

}  // namespace tern
