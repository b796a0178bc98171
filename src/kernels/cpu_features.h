#pragma once
// What the CPU can run, read at run time (never assumed at build time), and which
// instruction set the kernels use: the best one available, or TERN_ISA's choice.
#include <cstdint>
#include <string>
#include <string_view>

namespace tern {

enum class Isa { Scalar, Avx2, Avx512, Neon, Dotprod, I8mm };

// Every instruction set, in the order TERN_ISA's error message lists them.
inline constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Dotprod, Isa::I8mm};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false, avx512vbmi = false,
       gfni = false;
  // ARM64 (Linux HWCAP): Advanced SIMD, SDOT/UDOT (ASIMDDP), SMMLA/USDOT (I8MM).
  bool asimd = false, asimddp = false, i8mm = false;
  std::string name;  // "AMD EPYC 9454 48-Core Processor", from cpuid; on ARM64 from the MIDR
};

CpuFeatures detect_cpu_features();

// Cache sizes of CPU 0 (Linux sysfs; 0 where unknown): the L2 of its core and the
// last-level cache it shares with others.
struct CacheSizes {
  int64_t l2_bytes = 0;
  int64_t last_level_bytes = 0;
};
CacheSizes detect_cache_sizes();
bool isa_supported(Isa isa, const CpuFeatures& cpu);
std::string_view isa_name(Isa isa);
// TERN_ISA=scalar|avx2|avx512|neon|dotprod|i8mm forces one (an error if this CPU lacks it); otherwise
// the best the CPU supports.
Isa select_isa();

}  // namespace tern
