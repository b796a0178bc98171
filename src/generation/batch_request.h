#pragma once
// One line of `tern batch` input -> a BatchRequest. Kept in the library (not the CLI)
// so the fuzz target tests/fuzz/fuzz_batch_line.cpp reaches the same code.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "generation/batch.h"

namespace tern {

// What a request that sets nothing gets (the command line's flags).
struct BatchDefaults {
  int32_t n_predict = 128;
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool text = false;  // plain text: the whole line is the prompt, id = line number
};

// The largest n_predict a request may ask for (as tern batch -n).
constexpr int32_t kMaxBatchPredict = int32_t{1} << 30;

// Parses a JSONL line {"id", "prompt", "n_predict", "temperature", "top_k", "top_p",
// "min_p", "repeat_penalty", "seed", "stop"}. Integers must be exact and in range and
// floats finite; anything else throws tern::Error naming the line and key. `id` is set
// (the line's "id", else its number) before anything can throw, so an error record
// carries it.
BatchRequest parse_batch_line(const std::string& line, size_t line_number, const BatchDefaults& defaults,
                              nlohmann::json& id);

}  // namespace tern
