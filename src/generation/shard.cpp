#include "generation/shard.h"

#include <charconv>
#include <cstdlib>

#include "tern/error.h"

namespace tern {
namespace {

// A whole decimal integer, nothing before or after it.
std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

long long integer_variable(const EnvLookup& env, const std::string& name) {
  const std::optional<std::string> text = env(name);
  if (!text) fail("--shard auto: {} is not set", name);
  const std::optional<long long> value = parse_integer(*text);
  if (!value) fail("--shard auto: {} must be an integer, got '{}'", name, *text);
  return *value;
}

Shard checked(long long index, long long count, std::string_view origin) {
  if (count <= 0 || count > (1 << 30)) fail("{}: the shard count must be in [1, 2^30], got {}", origin, count);
  if (index < 0 || index >= count) fail("{}: the shard index must be in [0, {}), got {}", origin, count, index);
  return {static_cast<int>(index), static_cast<int>(count)};
}

Shard from_slurm(const EnvLookup& env, std::optional<long long> given_count) {
  const long long id = integer_variable(env, "SLURM_ARRAY_TASK_ID");
  const long long min = integer_variable(env, "SLURM_ARRAY_TASK_MIN");
  const long long count = integer_variable(env, "SLURM_ARRAY_TASK_COUNT");
  if (given_count && *given_count != count)
    fail("--shard auto/{}: the Slurm array has SLURM_ARRAY_TASK_COUNT={} tasks", *given_count, count);
  // A stepped array (--array=0-9:2) has gaps: ID - MIN would skip shards.
  return checked(id - min, count,
                 "--shard auto (Slurm: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN; the array must be contiguous)");
}

Shard from_kubernetes(const EnvLookup& env, std::optional<long long> given_count) {
  const long long index = integer_variable(env, "JOB_COMPLETION_INDEX");
  long long count = 0;
  if (given_count) {
    count = *given_count;
  } else if (env("TERN_SHARD_COUNT")) {
    count = integer_variable(env, "TERN_SHARD_COUNT");
  } else {
    fail(
        "--shard auto: JOB_COMPLETION_INDEX is set but not the count: use --shard auto/N or set TERN_SHARD_COUNT "
        "(the Job's completions)");
  }
  return checked(index, count, "--shard auto (Kubernetes: JOB_COMPLETION_INDEX)");
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Shard parse_shard(std::string_view spec, const EnvLookup& env) {
  const size_t slash = spec.find('/');
  const std::string_view head = spec.substr(0, slash);
  const std::string_view tail = slash == std::string_view::npos ? std::string_view() : spec.substr(slash + 1);
  if (head == "auto") {
    std::optional<long long> given_count;
    if (slash != std::string_view::npos) {
      given_count = parse_integer(tail);
      if (!given_count || *given_count <= 0) fail("--shard must be auto/N with N >= 1, got '{}'", spec);
    }
    if (env("SLURM_ARRAY_TASK_ID")) return from_slurm(env, given_count);
    if (env("JOB_COMPLETION_INDEX")) return from_kubernetes(env, given_count);
    fail(
        "--shard auto: neither a Slurm job array (SLURM_ARRAY_TASK_ID) nor a Kubernetes Indexed Job "
        "(JOB_COMPLETION_INDEX) is in the environment; give --shard I/N");
  }
  const std::optional<long long> index = parse_integer(head);
  const std::optional<long long> count = parse_integer(tail);
  if (slash == std::string_view::npos || !index || !count || *count <= 0 || *index < 0 || *index >= *count)
    fail("--shard must be I/N with 0 <= I < N, or auto, or auto/N, got '{}'", spec);
  return checked(*index, *count, "--shard");
}

}  // namespace tern
