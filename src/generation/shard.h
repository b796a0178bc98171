#pragma once
// Which part of an input a run handles: lines k with k % count == index. Given as
// "I/N" on the command line, or "auto" / "auto/N" to take it from the scheduler that
// started the process:
//   Slurm job arrays:         index = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN,
//                             count = SLURM_ARRAY_TASK_COUNT
//   Kubernetes Indexed Jobs:  index = JOB_COMPLETION_INDEX,
//                             count = N of "auto/N", else TERN_SHARD_COUNT
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

struct Shard {
  int index = 0;
  int count = 1;
  bool contains(size_t line) const { return static_cast<int>(line % static_cast<size_t>(count)) == index; }
};

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process's environment.
std::optional<std::string> process_environment(const std::string& name);

// Parses a --shard value; throws tern::Error naming the value or variable that is wrong,
// or saying that "auto" found no scheduler.
Shard parse_shard(std::string_view spec, const EnvLookup& env = process_environment);

}  // namespace tern
