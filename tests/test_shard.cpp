// --shard: I/N, and "auto" from the environment Slurm job arrays and Kubernetes Indexed
// Jobs set (the variable names and meanings as the schedulers document them).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "generation/shard.h"
#include "tern/error.h"

namespace tern {
namespace {

EnvLookup environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(std::string_view spec, const EnvLookup& env) {
  try {
    parse_shard(spec, env);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Shard, ExplicitIndexAndCount) {
  const Shard s = parse_shard("2/5", environment({}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_TRUE(s.contains(7));
  EXPECT_FALSE(s.contains(8));
}

TEST(Shard, ExplicitRejectsMalformedValues) {
  for (const char* bad : {"5/5", "-1/3", "1/0", "1", "a/3", "1/3x", "1 /3", "", "/", "auto/0", "auto/x", "auto/"})
    EXPECT_NE(error_of(bad, environment({})), "") << bad;
}

// sbatch --array=1-4 starts four tasks with ids 1..4, MIN 1, COUNT 4: shards 0..3.
TEST(Shard, SlurmArrayIdMinusMin) {
  std::set<int> seen;
  for (int id = 1; id <= 4; ++id) {
    const Shard s = parse_shard("auto", environment({{"SLURM_ARRAY_TASK_ID", std::to_string(id)},
                                                     {"SLURM_ARRAY_TASK_MIN", "1"},
                                                     {"SLURM_ARRAY_TASK_COUNT", "4"}}));
    EXPECT_EQ(s.count, 4);
    seen.insert(s.index);
  }
  EXPECT_EQ(seen, (std::set<int>{0, 1, 2, 3}));
}

TEST(Shard, SlurmCountMustAgreeWithAutoN) {
  const auto env =
      environment({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  EXPECT_EQ(parse_shard("auto/4", env).count, 4);
  EXPECT_NE(error_of("auto/3", env).find("SLURM_ARRAY_TASK_COUNT=4"), std::string::npos);
}

// --array=0-6:2 gives ids 0,2,4,6 with COUNT 4: id 6 - min 0 is past the count.
TEST(Shard, SlurmSteppedArrayIsAnError) {
  const auto env =
      environment({{"SLURM_ARRAY_TASK_ID", "6"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  EXPECT_NE(error_of("auto", env).find("contiguous"), std::string::npos);
}

TEST(Shard, SlurmMissingOrBadVariablesAreNamed) {
  EXPECT_NE(error_of("auto", environment({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}))
                .find("SLURM_ARRAY_TASK_MIN is not set"),
            std::string::npos);
  EXPECT_NE(
      error_of(
          "auto",
          environment({{"SLURM_ARRAY_TASK_ID", "3x"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}))
          .find("SLURM_ARRAY_TASK_ID must be an integer"),
      std::string::npos);
}

TEST(Shard, KubernetesIndexWithCountFromSpecOrVariable) {
  Shard s = parse_shard("auto/8", environment({{"JOB_COMPLETION_INDEX", "5"}}));
  EXPECT_EQ(s.index, 5);
  EXPECT_EQ(s.count, 8);
  s = parse_shard("auto", environment({{"JOB_COMPLETION_INDEX", "0"}, {"TERN_SHARD_COUNT", "3"}}));
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.count, 3);
  // auto/N wins over the variable.
  EXPECT_EQ(parse_shard("auto/2", environment({{"JOB_COMPLETION_INDEX", "1"}, {"TERN_SHARD_COUNT", "3"}})).count, 2);
}

TEST(Shard, KubernetesWithoutCountOrIndexPastCount) {
  EXPECT_NE(error_of("auto", environment({{"JOB_COMPLETION_INDEX", "0"}})).find("TERN_SHARD_COUNT"), std::string::npos);
  EXPECT_NE(error_of("auto/4", environment({{"JOB_COMPLETION_INDEX", "4"}})).find("index must be in [0, 4)"),
            std::string::npos);
}

TEST(Shard, AutoWithoutSchedulerSaysSo) {
  const std::string e = error_of("auto", environment({{"TERN_SHARD_COUNT", "3"}}));
  EXPECT_NE(e.find("SLURM_ARRAY_TASK_ID"), std::string::npos);
  EXPECT_NE(e.find("JOB_COMPLETION_INDEX"), std::string::npos);
}

}  // namespace
}  // namespace tern
