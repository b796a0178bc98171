// One line of `tern batch` input -> a SequenceRequest (tern/batch.h). Kept in the
// library (not the CLI) so a fuzz target reaches the same code.
#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "io/json_number.h"
#include "tern/batch.h"
#include "tern/error.h"

namespace tern {
namespace {

using json = nlohmann::json;

std::string key_name(size_t line_number, const char* key) { return fmt::format("line {}: \"{}\"", line_number, key); }

int32_t read_int32(const json& j, const char* key, int32_t min, int32_t max, size_t line_number) {
  return static_cast<int32_t>(require_integer(j[key], min, max, key_name(line_number, key)));
}

void read_float(const json& j, const char* key, float& value, size_t line_number) {
  if (j.contains(key)) value = require_float(j[key], key_name(line_number, key));
}

std::vector<std::string> read_stop(const json& stop, size_t line_number) {
  if (stop.is_string()) return {stop.get<std::string>()};
  std::vector<std::string> out;
  if (stop.is_array())
    for (const auto& s : stop) {
      if (!s.is_string()) break;
      out.push_back(s.get<std::string>());
    }
  if (!stop.is_array() || out.size() != stop.size())
    fail("{} must be a string or an array of strings", key_name(line_number, "stop"));
  return out;
}

}  // namespace

SequenceRequest parse_batch_line(const std::string& line, size_t line_number, const BatchDefaults& defaults,
                                 std::string& id_json) {
  SequenceRequest r;
  r.generation.n_predict = defaults.n_predict;
  r.sampling = defaults.sampling;
  r.generation.stop = defaults.stop;
  id_json = std::to_string(line_number);
  if (defaults.text) {
    r.prompt = line;
    return r;
  }
  const json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) fail("line {} is not JSON", line_number);
  if (!j.is_object()) fail("line {} is not a JSON object", line_number);
  if (j.contains("id")) id_json = j["id"].dump();
  if (!j.contains("prompt") || !j["prompt"].is_string()) fail("line {} has no \"prompt\" string", line_number);
  r.prompt = j["prompt"].get<std::string>();
  if (j.contains("n_predict")) r.generation.n_predict = read_int32(j, "n_predict", -1, kMaxBatchPredict, line_number);
  if (j.contains("top_k"))
    r.sampling.top_k =
        read_int32(j, "top_k", std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), line_number);
  if (j.contains("seed"))
    r.sampling.seed = require_unsigned(j["seed"], std::numeric_limits<uint64_t>::max(), key_name(line_number, "seed"));
  read_float(j, "temperature", r.sampling.temperature, line_number);
  read_float(j, "top_p", r.sampling.top_p, line_number);
  read_float(j, "min_p", r.sampling.min_p, line_number);
  read_float(j, "repeat_penalty", r.sampling.repeat_penalty, line_number);
  if (j.contains("stop")) r.generation.stop = read_stop(j["stop"], line_number);
  r.sampling.validate();
  return r;
}

}  // namespace tern
