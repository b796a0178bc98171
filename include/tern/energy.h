#pragma once
// Energy counters for `tern bench` (issue: "Tokens per joule, measured"): RAPL through the
// Linux powercap tree, the perf "power" PMU as a fallback, and the process's own CPU time
// and peak memory. Nothing here is global: the powercap root and the PMU directory are
// parameters, so tests can hand in a fake tree (most machines, CI included, have no
// counters at all).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tern {

inline constexpr const char* kDefaultPowercapRoot = "/sys/class/powercap";
inline constexpr const char* kDefaultPowerPmuDir = "/sys/bus/event_source/devices/power";

enum class EnergyDomainKind { Package, Core, Uncore, Dram, Psys, Other };

struct EnergyDomain {
  std::string name;  // the zone's "name" file: "package-0", "core", "dram", "psys"
  EnergyDomainKind kind = EnergyDomainKind::Other;
  std::filesystem::path energy_file;  // .../intel-rapl:0:1/energy_uj
  uint64_t max_range_uj = 0;          // max_energy_range_uj: the counter wraps past this
  int package = -1;                   // the package it belongs to; -1 for psys
};

struct EnergyReading {
  std::vector<uint64_t> microjoules;  // one per EnergyMeter::domains(), same order
  std::chrono::steady_clock::time_point when;
};

struct EnergySample {
  double joules_package = 0;  // summed over packages
  double joules_core = -1;    // summed over packages; -1: no core domain
  double joules_dram = -1;    // summed over packages; -1: no dram domain
  double joules_psys = -1;    // whole platform; -1: no psys domain
  double seconds = 0;         // from the readings' time points
  bool moved = false;         // false: no package counter changed, the figures are not a measurement
  double watts() const;       // joules_package / seconds (0 when no time passed)
};

class EnergyMeter {
 public:
  // Finds RAPL zones under `powercap_root` (normally kDefaultPowercapRoot; the CLI lets
  // $TERN_POWERCAP_ROOT override it): intel-rapl:N (name "package-N", or "psys"),
  // intel-rapl:N:M subzones ("core", "uncore", "dram") and intel-rapl-mmio:N (used only for
  // packages the MSR tree lacks: both report the same counter). AMD's powercap driver uses
  // the same names. Never throws for what it finds: a missing tree or unreadable files
  // make available() false, with the reason.
  static EnergyMeter discover(const std::filesystem::path& powercap_root);

  bool available() const { return reason_.empty(); }
  // One line naming the root or the file and, for permissions, the command that fixes it.
  const std::string& unavailable_reason() const { return reason_; }
  // Only the domains that could be read at discovery; unreadable subzones are dropped.
  const std::vector<EnergyDomain>& domains() const { return domains_; }

  // Reads every domain now. Throws tern::Error naming the file when a read fails or the
  // contents are not a number (also when !available()).
  EnergyReading read() const;

  // Energy between two readings of this meter. A counter that went down wrapped once:
  // delta = after + (max_range_uj - before). No +1 for the wrap step itself: one microjoule
  // is far below the counter's resolution (~61 uJ), and a second wrap between readings
  // (minutes at full load) cannot be seen anyway, so read at least every minute or so.
  EnergySample between(const EnergyReading& before, const EnergyReading& after) const;

 private:
  std::vector<EnergyDomain> domains_;
  std::string reason_ = "energy meter not discovered";
};

// The fallback: perf_event_open on the "power" PMU's energy-pkg event, system-wide on
// CPU 0 (the kernel counts per package, CPU 0 reads package 0). 64-bit counts, so no wrap.
class PerfEnergyCounter {
 public:
  static PerfEnergyCounter open(const std::filesystem::path& pmu_dir = kDefaultPowerPmuDir);
  PerfEnergyCounter() = default;
  PerfEnergyCounter(PerfEnergyCounter&& other) noexcept;
  PerfEnergyCounter& operator=(PerfEnergyCounter&& other) noexcept;
  PerfEnergyCounter(const PerfEnergyCounter&) = delete;
  PerfEnergyCounter& operator=(const PerfEnergyCounter&) = delete;
  ~PerfEnergyCounter();

  bool available() const { return fd_ >= 0; }
  const std::string& unavailable_reason() const { return reason_; }
  double scale() const { return scale_; }  // joules per count, from events/energy-pkg.scale
  double joules() const;                   // since open(); throws tern::Error when unavailable

 private:
  int fd_ = -1;
  double scale_ = 0;
  std::string reason_ = "perf energy counter not opened";
};

// Parsers for the PMU's sysfs files, exposed for tests. Both throw tern::Error naming `file`.
uint64_t parse_perf_event_config(const std::string& text, const std::filesystem::path& file);  // "event=0x02"
double parse_perf_scale(const std::string& text, const std::filesystem::path& file);  // "2.3283064365386962890625e-10"

// The one-line message for an energy file that cannot be read (errno `error_number`):
// for permission errors it says to chmod that zone family's energy_uj files or run as root.
std::string unreadable_energy_file_message(const std::filesystem::path& energy_file, int error_number);

// This process: peak and current resident set size in bytes (0 if unknown), and user +
// system CPU seconds so far.
uint64_t peak_rss_bytes();
// Returns freed heap to the system and restarts the peak (VmHWM) from the current RSS.
void reset_peak_rss();
uint64_t current_rss_bytes();
double cpu_seconds();

}  // namespace tern
