#include "tern/energy.h"

#include <malloc.h>

#include <cstdio>

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "tern/error.h"

namespace tern {
namespace fs = std::filesystem;
namespace {

// Reads a small sysfs file with plain POSIX calls: ifstream hides errno, and the reason
// (permission denied vs. no such file vs. a directory) is what the user needs to see.
// Returns 0 or the errno of the failing call.
int read_small_file(const fs::path& path, std::string& out) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buffer[256];
  int error = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      error = errno;
      break;
    }
  }
  ::close(fd);
  return error;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<uint64_t> parse_u64(const std::string& text, int base = 10) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// A counter file's value, or the one-line reason it has none.
struct CounterValue {
  uint64_t value = 0;
  std::string problem;
};

CounterValue read_counter(const fs::path& file) {
  std::string text;
  if (const int error = read_small_file(file, text); error != 0)
    return {0, unreadable_energy_file_message(file, error)};
  const std::string trimmed = trim(text);
  if (const auto value = parse_u64(trimmed)) return {*value, {}};
  return {0, fmt::format("{}: expected a whole number of microjoules, found '{}'", file.string(), trimmed)};
}

uint64_t read_counter_or_throw(const fs::path& file) {
  CounterValue c = read_counter(file);
  if (!c.problem.empty()) throw Error(c.problem);
  return c.value;
}

std::string read_text_or_throw(const fs::path& file) {
  std::string text;
  if (const int error = read_small_file(file, text); error != 0)
    fail("{} is not readable ({})", file.string(), std::strerror(error));
  return trim(text);
}

EnergyDomainKind kind_of(const std::string& name) {
  if (name.rfind("package", 0) == 0) return EnergyDomainKind::Package;  // also "package-0-die-1"
  if (name == "core") return EnergyDomainKind::Core;
  if (name == "uncore") return EnergyDomainKind::Uncore;
  if (name == "dram") return EnergyDomainKind::Dram;
  if (name == "psys") return EnergyDomainKind::Psys;
  return EnergyDomainKind::Other;
}

// "package-1" or "package-1-die-0" -> 1.
std::optional<int> package_number(const std::string& name) {
  if (name.rfind("package-", 0) != 0) return std::nullopt;
  const auto digits = name.find_first_not_of("0123456789", 8);
  const auto n = parse_u64(name.substr(8, digits == std::string::npos ? std::string::npos : digits - 8));
  if (!n || *n > 4096) return std::nullopt;
  return static_cast<int>(*n);
}

// A zone directory: "intel-rapl:0" -> family "intel-rapl", index {0}; "intel-rapl:0:1" -> {0, 1}.
struct Zone {
  std::string family;
  std::vector<int> index;
  EnergyDomain domain;
  bool operator<(const Zone& o) const { return std::tie(family, index) < std::tie(o.family, o.index); }
};

std::optional<Zone> parse_zone_dir(const fs::path& dir) {
  const std::string base = dir.filename().string();
  const auto colon = base.find(':');
  if (colon == std::string::npos) return std::nullopt;  // "intel-rapl" itself is the control type, not a zone
  Zone z;
  z.family = base.substr(0, colon);
  if (z.family != "intel-rapl" && z.family != "intel-rapl-mmio") return std::nullopt;
  for (size_t pos = colon; pos != std::string::npos;) {
    const auto next = base.find(':', pos + 1);
    const auto value = parse_u64(base.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1));
    if (!value || *value > 1024) return std::nullopt;
    z.index.push_back(static_cast<int>(*value));
    pos = next;
  }
  if (z.index.size() > 2) return std::nullopt;
  std::string name;
  if (read_small_file(dir / "name", name) != 0) return std::nullopt;  // world-readable on real systems
  z.domain.name = trim(name);
  z.domain.kind = kind_of(z.domain.name);
  z.domain.energy_file = dir / "energy_uj";
  return z;
}

}  // namespace

std::string unreadable_energy_file_message(const fs::path& energy_file, int error_number) {
  std::string message = fmt::format("{} is not readable ({})", energy_file.string(), std::strerror(error_number));
  if (error_number == EACCES || error_number == EPERM) {
    // Since Linux 5.10 energy_uj is root-only (the Platypus side channel); the fix is to
    // open the whole zone family, subzones included (":*" matches "intel-rapl:0:1" too).
    const std::string zone = energy_file.parent_path().filename().string();
    const fs::path glob =
        energy_file.parent_path().parent_path() / (zone.substr(0, zone.find(':')) + ":*") / energy_file.filename();
    message += fmt::format(": run `sudo chmod o+r {}` or run as root", glob.string());
  }
  return message;
}

double EnergySample::watts() const { return seconds > 0 ? joules_package / seconds : 0.0; }

EnergyMeter EnergyMeter::discover(const fs::path& powercap_root) {
  EnergyMeter meter;
  std::vector<Zone> zones;
  std::error_code ec;
  for (fs::directory_iterator it(powercap_root, ec), end; !ec && it != end; it.increment(ec))
    if (auto zone = parse_zone_dir(it->path())) zones.push_back(std::move(*zone));
  std::sort(zones.begin(), zones.end());
  if (zones.empty()) {
    meter.reason_ = fmt::format("no RAPL domains under {}", powercap_root.string());
    return meter;
  }

  // A zone's package is its top zone's "package-N"; psys and other top zones have none.
  auto package_of_top = [&](const std::string& family, int index) {
    for (const Zone& z : zones) {
      if (z.family != family || z.index.size() != 1 || z.index[0] != index) continue;
      if (z.domain.kind != EnergyDomainKind::Package) return -1;
      const auto n = package_number(z.domain.name);
      return n ? *n : index;
    }
    return -1;
  };
  std::set<int> msr_packages;
  for (Zone& z : zones) {
    z.domain.package = package_of_top(z.family, z.index[0]);
    if (z.family == "intel-rapl" && z.domain.kind == EnergyDomainKind::Package) msr_packages.insert(z.domain.package);
  }
  // The MMIO interface reads the same package counters as the MSR one: counting both
  // would double the energy, so it only fills in packages the MSR tree lacks.
  std::erase_if(zones,
                [&](const Zone& z) { return z.family == "intel-rapl-mmio" && msr_packages.count(z.domain.package); });

  // Probe every zone. A kind with any unreadable zone is dropped whole: a sum over some
  // packages only would look like a measurement and be wrong. For packages that means
  // the meter is unavailable.
  std::vector<std::pair<EnergyDomainKind, std::string>> problems;
  for (Zone& z : zones) {
    const CounterValue range = read_counter(z.domain.energy_file.parent_path() / "max_energy_range_uj");
    const CounterValue energy = read_counter(z.domain.energy_file);
    z.domain.max_range_uj = range.value;
    if (!energy.problem.empty() || !range.problem.empty())
      problems.emplace_back(z.domain.kind, !energy.problem.empty() ? energy.problem : range.problem);
  }
  auto problem_with = [&](EnergyDomainKind kind) -> const std::string* {
    for (const auto& [k, problem] : problems)
      if (k == kind) return &problem;
    return nullptr;
  };
  for (Zone& z : zones)
    if (!problem_with(z.domain.kind)) meter.domains_.push_back(std::move(z.domain));

  const bool has_package = std::any_of(meter.domains_.begin(), meter.domains_.end(),
                                       [](const EnergyDomain& d) { return d.kind == EnergyDomainKind::Package; });
  if (const std::string* problem = problem_with(EnergyDomainKind::Package)) meter.reason_ = *problem;
  else if (!has_package) meter.reason_ = fmt::format("no RAPL package domain under {}", powercap_root.string());
  else meter.reason_.clear();
  return meter;
}

EnergyReading EnergyMeter::read() const {
  if (!available()) throw Error(reason_);
  EnergyReading r;
  r.microjoules.reserve(domains_.size());
  for (const EnergyDomain& d : domains_) r.microjoules.push_back(read_counter_or_throw(d.energy_file));
  r.when = std::chrono::steady_clock::now();
  return r;
}

EnergySample EnergyMeter::between(const EnergyReading& before, const EnergyReading& after) const {
  if (before.microjoules.size() != domains_.size() || after.microjoules.size() != domains_.size())
    fail("energy readings have {} and {} values, the meter has {} domains", before.microjoules.size(),
         after.microjoules.size(), domains_.size());
  EnergySample s;
  s.seconds = std::chrono::duration<double>(after.when - before.when).count();
  auto add = [](double& total, double joules) { total = (total < 0 ? 0 : total) + joules; };
  for (size_t i = 0; i < domains_.size(); ++i) {
    const EnergyDomain& d = domains_[i];
    const uint64_t b = before.microjoules[i], a = after.microjoules[i];
    if (a < b && b > d.max_range_uj)
      fail("{}: counter went from {} to {} uJ but its range is only {} uJ", d.energy_file.string(), b, a,
           d.max_range_uj);
    const uint64_t delta = a >= b ? a - b : a + (d.max_range_uj - b);  // one wrap; see the header
    const double joules = static_cast<double>(delta) * 1e-6;
    switch (d.kind) {
      case EnergyDomainKind::Package:
        s.joules_package += joules;
        s.moved = s.moved || delta > 0;
        break;
      case EnergyDomainKind::Core: add(s.joules_core, joules); break;
      case EnergyDomainKind::Dram: add(s.joules_dram, joules); break;
      case EnergyDomainKind::Psys: add(s.joules_psys, joules); break;
      default: break;
    }
  }
  return s;
}

// ---- perf "power" PMU ----

uint64_t parse_perf_event_config(const std::string& text, const fs::path& file) {
  // "event=0x02", possibly with more comma-separated terms ("event=0x02,umask=0x0").
  const std::string t = trim(text);
  for (size_t pos = 0; pos <= t.size();) {
    const auto comma = std::min(t.find(',', pos), t.size());
    const std::string term = t.substr(pos, comma - pos);
    if (term.rfind("event=", 0) == 0) {
      std::string value = term.substr(6);
      const bool hex = value.rfind("0x", 0) == 0 || value.rfind("0X", 0) == 0;
      if (const auto v = parse_u64(hex ? value.substr(2) : value, hex ? 16 : 10)) return *v;
      break;
    }
    pos = comma + 1;
  }
  fail("{}: expected 'event=0x..', found '{}'", file.string(), t);
}

double parse_perf_scale(const std::string& text, const fs::path& file) {
  const std::string t = trim(text);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(value) || value <= 0)
    fail("{}: expected a positive scale in joules per count, found '{}'", file.string(), t);
  return value;
}

PerfEnergyCounter PerfEnergyCounter::open(const fs::path& pmu_dir) {
  PerfEnergyCounter c;
  std::error_code ec;
  if (!fs::exists(pmu_dir / "type", ec)) {
    c.reason_ = fmt::format("no perf power PMU: {} does not exist", (pmu_dir / "type").string());
    return c;
  }
  perf_event_attr attr{};
  attr.size = sizeof attr;
  try {
    const fs::path type_file = pmu_dir / "type", event_file = pmu_dir / "events" / "energy-pkg";
    const auto type = parse_u64(read_text_or_throw(type_file));
    if (!type || *type > UINT32_MAX) fail("{}: expected a PMU type number", type_file.string());
    attr.type = static_cast<uint32_t>(*type);
    attr.config = parse_perf_event_config(read_text_or_throw(event_file), event_file);
    c.scale_ = parse_perf_scale(read_text_or_throw(pmu_dir / "events" / "energy-pkg.scale"),
                                pmu_dir / "events" / "energy-pkg.scale");
  } catch (const Error& e) {
    c.reason_ = e.what();
    return c;
  }
  // pid -1, cpu 0: system-wide on CPU 0, which is what the power PMU accepts.
  const long fd = ::syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    c.reason_ = fmt::format("perf_event_open for power/energy-pkg failed ({})", std::strerror(error));
    if (error == EACCES || error == EPERM) {
      std::string paranoid;
      read_small_file("/proc/sys/kernel/perf_event_paranoid", paranoid);
      c.reason_ += fmt::format(
          ": kernel.perf_event_paranoid is {} and system-wide events need 0 or less: run "
          "`sudo sysctl kernel.perf_event_paranoid=0` or run as root",
          paranoid.empty() ? "unknown" : trim(paranoid));
    }
    return c;
  }
  c.fd_ = static_cast<int>(fd);
  c.reason_.clear();
  return c;
}

PerfEnergyCounter::PerfEnergyCounter(PerfEnergyCounter&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), scale_(other.scale_), reason_(std::move(other.reason_)) {}

PerfEnergyCounter& PerfEnergyCounter::operator=(PerfEnergyCounter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    scale_ = other.scale_;
    reason_ = std::move(other.reason_);
  }
  return *this;
}

PerfEnergyCounter::~PerfEnergyCounter() {
  if (fd_ >= 0) ::close(fd_);
}

double PerfEnergyCounter::joules() const {
  if (fd_ < 0) throw Error(reason_);
  uint64_t count = 0;
  if (::read(fd_, &count, sizeof count) != static_cast<ssize_t>(sizeof count))
    fail("reading the perf power/energy-pkg counter failed ({})", std::strerror(errno));
  return static_cast<double>(count) * scale_;
}

// ---- this process ----

uint64_t peak_rss_bytes() {
  // VmHWM from /proc/self/status (kB); unlike getrusage's ru_maxrss it can be reset
  // (reset_peak_rss), so a benchmark can measure one model after building another.
  std::string text;
  if (read_small_file("/proc/self/status", text) == 0) {
    const auto at = text.find("VmHWM:");
    if (at != std::string::npos) {
      const auto digits = text.find_first_of("0123456789", at);
      const auto end = text.find_first_not_of("0123456789", digits);
      if (const auto kib = parse_u64(text.substr(digits, end - digits))) return *kib * 1024;
    }
  }
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

void reset_peak_rss() {
  ::malloc_trim(0);  // give freed heap back first, or it would still count as resident
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);  // "5" resets the peak resident set size to the current one
    std::fclose(f);
  }
}

uint64_t current_rss_bytes() {
  // /proc/self/statm: "size resident shared ..." in pages.
  std::string text;
  if (read_small_file("/proc/self/statm", text) != 0) return 0;
  const auto start = text.find(' ');
  if (start == std::string::npos) return 0;
  const auto end = text.find(' ', start + 1);
  const auto pages = parse_u64(text.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1));
  return pages ? *pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

double cpu_seconds() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace tern
