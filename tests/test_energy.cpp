// Energy counters against a FAKE powercap tree: the machines that run these tests have
// no RAPL and no power PMU, so scripted energy_uj files carry the proof that discovery,
// wrap-around, summing over packages and the error messages are right.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <functional>

#include "tern/energy.h"
#include "tern/error.h"
#include "test_support.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::TempDir;

constexpr uint64_t kRange = 262143328850;  // a real max_energy_range_uj

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}

// A powercap tree in a temporary directory, laid out like /sys/class/powercap.
class FakePowercap {
 public:
  FakePowercap() { fs::create_directories(dir_ / "intel-rapl"); }  // the control type: not a zone
  fs::path root() const { return dir_.path(); }
  void zone(const std::string& zone, const std::string& name, uint64_t energy_uj, uint64_t max_range = kRange) {
    fs::create_directories(dir_ / zone);
    write_file(dir_ / zone / "name", name + "\n");
    write_file(dir_ / zone / "max_energy_range_uj", std::to_string(max_range) + "\n");
    set(zone, energy_uj);
  }
  void set(const std::string& zone, uint64_t energy_uj) {
    write_file(energy_file(zone), std::to_string(energy_uj) + "\n");
  }
  fs::path energy_file(const std::string& zone) const { return dir_ / zone / "energy_uj"; }

  // Two packages, each with core and dram subzones.
  void two_packages(uint64_t package_uj, uint64_t core_uj, uint64_t dram_uj) {
    for (const std::string p : {"0", "1"}) {
      zone("intel-rapl:" + p, "package-" + p, package_uj);
      zone("intel-rapl:" + p + ":0", "core", core_uj);
      zone("intel-rapl:" + p + ":1", "dram", dram_uj);
    }
  }
  void set_all(uint64_t package_uj, uint64_t core_uj, uint64_t dram_uj) {
    for (const std::string p : {"0", "1"}) {
      set("intel-rapl:" + p, package_uj);
      set("intel-rapl:" + p + ":0", core_uj);
      set("intel-rapl:" + p + ":1", dram_uj);
    }
  }

 private:
  TempDir dir_;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no tern::Error thrown)";
}

TEST(Energy, DiscoversPackagesAndSubzones) {
  FakePowercap tree;
  tree.two_packages(1000000, 0, 0);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  EXPECT_EQ(meter.unavailable_reason(), "");
  ASSERT_EQ(meter.domains().size(), 6u);
  int packages = 0;
  for (const EnergyDomain& d : meter.domains()) {
    EXPECT_EQ(d.max_range_uj, kRange);
    EXPECT_EQ(d.energy_file.filename(), "energy_uj");
    if (d.kind == EnergyDomainKind::Package) {
      ++packages;
      EXPECT_EQ(d.name, "package-" + std::to_string(d.package));
    } else {
      EXPECT_TRUE(d.name == "core" || d.name == "dram") << d.name;
      EXPECT_TRUE(d.package == 0 || d.package == 1);
    }
  }
  EXPECT_EQ(packages, 2);
}

TEST(Energy, PlainDeltaSumsPackagesAndReportsCoreAndDramSeparately) {
  FakePowercap tree;
  tree.two_packages(1000000, 100000, 0);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  EnergyReading before = meter.read();
  tree.set_all(3500000, 600000, 250000);
  EnergyReading after = meter.read();
  after.when = before.when + seconds(2);  // a known interval, for watts

  const EnergySample s = meter.between(before, after);
  EXPECT_DOUBLE_EQ(s.joules_package, 2 * 2.5);  // 2.5 J in each of two packages
  EXPECT_DOUBLE_EQ(s.joules_core, 2 * 0.5);
  EXPECT_DOUBLE_EQ(s.joules_dram, 2 * 0.25);
  EXPECT_DOUBLE_EQ(s.joules_psys, -1);
  EXPECT_DOUBLE_EQ(s.seconds, 2.0);
  EXPECT_DOUBLE_EQ(s.watts(), 2.5);
  EXPECT_TRUE(s.moved);
}

TEST(Energy, WrapAroundAddsTheRestOfTheRange) {
  FakePowercap tree;
  const uint64_t max = 1000000;
  tree.zone("intel-rapl:0", "package-0", max - 100, max);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  const EnergyReading before = meter.read();
  tree.set("intel-rapl:0", 50);
  const EnergySample s = meter.between(before, meter.read());
  // Documented convention: after + (max - before), no +1 for the wrap step.
  EXPECT_DOUBLE_EQ(s.joules_package, 150e-6);
  EXPECT_TRUE(s.moved);
}

TEST(Energy, CounterThatDoesNotMoveIsFlagged) {
  FakePowercap tree;
  tree.two_packages(1000000, 5, 5);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  const EnergyReading before = meter.read();
  const EnergySample s = meter.between(before, meter.read());
  EXPECT_EQ(s.joules_package, 0.0);
  EXPECT_EQ(s.joules_core, 0.0);  // present, just idle
  EXPECT_FALSE(s.moved);
}

TEST(Energy, PackageWithoutSubzonesHasNoCoreOrDram) {
  FakePowercap tree;
  tree.zone("intel-rapl:0", "package-0", 10);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  const EnergyReading before = meter.read();
  tree.set("intel-rapl:0", 1000010);
  const EnergySample s = meter.between(before, meter.read());
  EXPECT_DOUBLE_EQ(s.joules_package, 1.0);
  EXPECT_EQ(s.joules_core, -1);
  EXPECT_EQ(s.joules_dram, -1);
}

TEST(Energy, NoTreeNamesTheRoot) {
  TempDir dir;
  const fs::path missing = dir / "no-such-powercap";
  const EnergyMeter meter = EnergyMeter::discover(missing);
  EXPECT_FALSE(meter.available());
  EXPECT_NE(meter.unavailable_reason().find(missing.string()), std::string::npos) << meter.unavailable_reason();
  EXPECT_NE(meter.unavailable_reason().find("no RAPL domains"), std::string::npos);
  EXPECT_NE(error_of([&] { meter.read(); }).find(missing.string()), std::string::npos);

  // An existing tree with only non-RAPL zones is the same story.
  fs::create_directories(dir / "empty" / "dtpm");
  EXPECT_FALSE(EnergyMeter::discover(dir / "empty").available());
}

TEST(Energy, UnreadablePackageFileMakesTheMeterUnavailable) {
  // A directory in place of energy_uj fails to read even for root (EISDIR).
  FakePowercap tree;
  tree.two_packages(1, 1, 1);
  const fs::path file = tree.energy_file("intel-rapl:1");
  fs::remove(file);
  fs::create_directory(file);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  EXPECT_FALSE(meter.available());
  const std::string reason = meter.unavailable_reason();
  EXPECT_NE(reason.find(file.string() + " is not readable"), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos);
}

TEST(Energy, PermissionMessageSaysWhatToRun) {
  // The wording for EACCES, checked directly (the tests may run as root, where chmod 000
  // does not stop reads).
  const fs::path file = "/sys/class/powercap/intel-rapl:0/energy_uj";
  EXPECT_EQ(unreadable_energy_file_message(file, EACCES),
            "/sys/class/powercap/intel-rapl:0/energy_uj is not readable (Permission denied): run "
            "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj` or run as root");
  EXPECT_NE(
      unreadable_energy_file_message("/p/intel-rapl-mmio:0/energy_uj", EPERM).find("/p/intel-rapl-mmio:*/energy_uj"),
      std::string::npos);
}

TEST(Energy, UnreadableSubzoneDropsOnlyThatKind) {
  FakePowercap tree;
  tree.two_packages(1, 1, 1);
  const fs::path file = tree.energy_file("intel-rapl:1:1");  // package 1's dram
  fs::remove(file);
  fs::create_directory(file);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  EXPECT_EQ(meter.domains().size(), 4u);  // both dram zones gone: half a dram sum would mislead
  const EnergyReading r = meter.read();
  const EnergySample s = meter.between(r, r);
  EXPECT_EQ(s.joules_dram, -1);
  EXPECT_EQ(s.joules_core, 0);
}

TEST(Energy, MalformedContentsNameTheFile) {
  FakePowercap tree;
  tree.two_packages(1, 1, 1);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  const fs::path file = tree.energy_file("intel-rapl:0:1");
  write_file(file, "abc\n");
  const std::string message = error_of([&] { meter.read(); });
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_NE(message.find("'abc'"), std::string::npos) << message;

  // Found at discovery instead, a malformed package counter is a reason, not an exception.
  write_file(tree.energy_file("intel-rapl:0"), "abc");
  const EnergyMeter bad = EnergyMeter::discover(tree.root());
  EXPECT_FALSE(bad.available());
  EXPECT_NE(bad.unavailable_reason().find(tree.energy_file("intel-rapl:0").string()), std::string::npos);
}

TEST(Energy, FileVanishingMidRunThrowsNamingIt) {
  FakePowercap tree;
  tree.zone("intel-rapl:0", "package-0", 1);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  fs::remove(tree.energy_file("intel-rapl:0"));
  EXPECT_NE(error_of([&] { meter.read(); }).find(tree.energy_file("intel-rapl:0").string()), std::string::npos);
}

TEST(Energy, MmioZonesDoNotDoubleCountMsrPackages) {
  FakePowercap tree;
  tree.zone("intel-rapl:0", "package-0", 0);
  tree.zone("intel-rapl:1", "psys", 0);
  tree.zone("intel-rapl-mmio:0", "package-0", 0);  // same counter through MMIO
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  ASSERT_EQ(meter.domains().size(), 2u);
  const EnergyReading before = meter.read();
  tree.set("intel-rapl:0", 2000000);
  tree.set("intel-rapl-mmio:0", 2000000);
  tree.set("intel-rapl:1", 3000000);
  const EnergySample s = meter.between(before, meter.read());
  EXPECT_DOUBLE_EQ(s.joules_package, 2.0);
  EXPECT_DOUBLE_EQ(s.joules_psys, 3.0);

  // Without the MSR tree, the MMIO one is used.
  FakePowercap mmio_only;
  mmio_only.zone("intel-rapl-mmio:0", "package-0", 0);
  EXPECT_TRUE(EnergyMeter::discover(mmio_only.root()).available());
}

TEST(Energy, OnlyPsysIsNotEnough) {
  FakePowercap tree;
  tree.zone("intel-rapl:0", "psys", 0);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  EXPECT_FALSE(meter.available());
  EXPECT_NE(meter.unavailable_reason().find("no RAPL package domain"), std::string::npos);
}

TEST(Energy, ReadingsOfTheWrongSizeAreRejected) {
  FakePowercap tree;
  tree.zone("intel-rapl:0", "package-0", 0);
  const EnergyMeter meter = EnergyMeter::discover(tree.root());
  const EnergyReading good = meter.read();
  EnergyReading bad = good;
  bad.microjoules.push_back(1);
  EXPECT_THROW(meter.between(good, bad), Error);
}

TEST(Energy, PerfPmuMissingOrUnusable) {
  TempDir dir;
  const PerfEnergyCounter missing = PerfEnergyCounter::open(dir / "power");
  EXPECT_FALSE(missing.available());
  EXPECT_NE(missing.unavailable_reason().find((dir / "power" / "type").string()), std::string::npos);
  EXPECT_THROW(missing.joules(), Error);

  // A PMU directory that parses but names no real PMU type: perf_event_open must refuse it.
  const fs::path pmu = dir / "fake-power";
  fs::create_directories(pmu / "events");
  write_file(pmu / "type", "2147483000\n");
  write_file(pmu / "events" / "energy-pkg", "event=0x02\n");
  write_file(pmu / "events" / "energy-pkg.scale", "2.3283064365386962890625e-10\n");
  const PerfEnergyCounter bogus = PerfEnergyCounter::open(pmu);
  EXPECT_FALSE(bogus.available());
  EXPECT_NE(bogus.unavailable_reason().find("perf_event_open"), std::string::npos) << bogus.unavailable_reason();

  write_file(pmu / "events" / "energy-pkg.scale", "lots\n");
  const PerfEnergyCounter bad_scale = PerfEnergyCounter::open(pmu);
  EXPECT_FALSE(bad_scale.available());
  EXPECT_NE(bad_scale.unavailable_reason().find("energy-pkg.scale"), std::string::npos)
      << bad_scale.unavailable_reason();
}

TEST(Energy, PerfSysfsParsing) {
  const fs::path f = "events/energy-pkg";
  EXPECT_EQ(parse_perf_event_config("event=0x02\n", f), 2u);
  EXPECT_EQ(parse_perf_event_config("event=0x1b,umask=0x0", f), 0x1bu);
  EXPECT_EQ(parse_perf_event_config("umask=0x1,event=5", f), 5u);
  EXPECT_NE(error_of([&] { parse_perf_event_config("config=2", f); }).find("events/energy-pkg"), std::string::npos);
  EXPECT_THROW(parse_perf_event_config("event=0xzz", f), Error);
  EXPECT_DOUBLE_EQ(parse_perf_scale("2.3283064365386962890625e-10\n", f), 2.3283064365386962890625e-10);
  EXPECT_THROW(parse_perf_scale("", f), Error);
  EXPECT_THROW(parse_perf_scale("-1", f), Error);
  EXPECT_THROW(parse_perf_scale("1e-10x", f), Error);
}

TEST(Energy, ProcessRssAndCpuTime) {
  EXPECT_GT(peak_rss_bytes(), 1u << 20);  // this test binary alone is more than a MiB
  EXPECT_GT(current_rss_bytes(), 1u << 20);
  EXPECT_LE(current_rss_bytes(), peak_rss_bytes() + (1u << 20));  // sampled at different moments
  const double start = cpu_seconds();
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + 1.0;
  EXPECT_GT(cpu_seconds(), start);
}

}  // namespace
}  // namespace tern
