// tern bench end to end: machine-readable rows, energy from a fake powercap tree, the
// estimated label, and its errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>

#include "shared_data.h"
#include "test_support.h"

namespace tern {
namespace {

using testing::TempDir;

// A powercap tree with one package whose counter cannot move (static files).
void write_fake_tree(const std::filesystem::path& root) {
  std::filesystem::create_directories(root / "intel-rapl:0");
  std::ofstream(root / "intel-rapl:0" / "name") << "package-0\n";
  std::ofstream(root / "intel-rapl:0" / "energy_uj") << "1000\n";
  std::ofstream(root / "intel-rapl:0" / "max_energy_range_uj") << "262143328850\n";
}

TEST(Bench, JsonRowsCarryEveryField) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  const auto r = testing::run_command(testing::tern_cli() + " bench -m " + model.string() +
                                      " -p 8 -n 8 -r 2 -t 1,2 --output json --powercap-root /nonexistent");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 4u);  // pp and tg for 1 and 2 threads
  for (const auto& row : rows) {
    for (const char* key :
         {"model", "bytes", "bits_per_weight", "threads", "isa", "cpu", "commit", "test", "tokens_per_second",
          "tokens_per_second_sd", "peak_rss_bytes", "cpu_seconds_per_token", "kv_type"})
      EXPECT_TRUE(row.contains(key)) << key;
    EXPECT_EQ(row["kv_type"], "f32");
    EXPECT_GT(row["tokens_per_second"].get<double>(), 0);
    EXPECT_EQ(row["energy_source"], "none");
    EXPECT_FALSE(row.contains("joules"));
  }
  EXPECT_NE(r.err.find("no energy counters"), std::string::npos) << "says plainly that there are none";
  EXPECT_NE(r.err.find("/nonexistent"), std::string::npos);
}

// Batch rows (--batch): aggregate tokens/s of B sequences decoded together, each with
// its speed-up over the B = 1 row of the same threads, in every output format.
TEST(Bench, BatchRowsCarryTheirSpeedupOverOneSequence) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  const std::string args =
      " bench -m " + model.string() + " -p 0 -n 8 -r 1 -t 1,2 --batch 1,4 --powercap-root /nonexistent";
  const auto r = testing::run_command(testing::tern_cli() + args + " --output json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 6u);  // tg8, tg8 x B1, tg8 x B4 for 1 and 2 threads
  for (int threads : {1, 2}) {
    std::map<int, nlohmann::json> by_batch;
    for (const auto& row : rows)
      if (row["threads"] == threads && row.contains("batch")) by_batch[row["batch"].get<int>()] = row;
    ASSERT_EQ(by_batch.size(), 2u) << "threads " << threads;
    EXPECT_EQ(by_batch[4]["test"], "tg8 x B4");
    EXPECT_FALSE(by_batch[1].contains("speedup_vs_b1"));
    EXPECT_NEAR(by_batch[4]["speedup_vs_b1"].get<double>(),
                by_batch[4]["tokens_per_second"].get<double>() / by_batch[1]["tokens_per_second"].get<double>(), 1e-9);
  }
  const auto md = testing::run_command(testing::tern_cli() + args);
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("x B1)"), std::string::npos) << md.out;
  const auto csv = testing::run_command(testing::tern_cli() + args + " --output csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find(",speedup_vs_b1\n"), std::string::npos) << csv.out;
}

TEST(Bench, WattsGiveAnEstimateLabelledEverywhere) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  const auto r = testing::run_command(testing::tern_cli() + " bench -m " + model.string() +
                                      " -p 8 -n 0 -r 1 -t 1 --watts 20 --output jsonl --powercap-root /nonexistent");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto row = nlohmann::json::parse(r.out);
  EXPECT_EQ(row["energy_source"], "estimated");
  EXPECT_TRUE(row["estimated"].get<bool>());
  EXPECT_DOUBLE_EQ(row["watts"].get<double>(), 20.0);
  EXPECT_NEAR(row["tokens_per_joule"].get<double>() * row["joules_per_token"].get<double>(), 1.0, 1e-9);
  const auto md = testing::run_command(testing::tern_cli() + " bench -m " + model.string() +
                                       " -p 8 -n 0 -r 1 -t 1 --watts 20 --powercap-root /nonexistent");
  EXPECT_NE(md.out.find("(estimated)"), std::string::npos) << md.out;
}

TEST(Bench, ReadsAFakePowercapTreeAndFlagsAStuckCounter) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  TempDir dir;
  write_fake_tree(dir / "powercap");
  const auto r = testing::run_command("TERN_POWERCAP_ROOT=" + (dir / "powercap").string() + " " + testing::tern_cli() +
                                      " bench -m " + model.string() + " -p 8 -n 0 -r 1 -t 1 --output jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto row = nlohmann::json::parse(r.out);
  EXPECT_EQ(row["energy_source"], "rapl");
  EXPECT_EQ(row["joules"].get<double>(), 0.0);
  EXPECT_FALSE(row["counter_moved"].get<bool>());
}

TEST(Bench, BadFlagsAreOneLineErrors) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  for (const std::string& args :
       {"-m " + model.string() + " --compare f16", std::string("--shape nosuchshape"),
        "-m " + model.string() + " --watts -3", "-m " + model.string() + " --kv-type f64", std::string("")}) {
    const auto r = testing::run_command(testing::tern_cli() + " bench " + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(r.err.rfind("tern: error:", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace tern
