// One line of tern batch JSONL input: types, exact integers, ranges.
#include "fuzz_input.h"
#include "tern/batch.h"
#include "tern/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const tern::BatchDefaults defaults;
  std::string id;  // JSON text
  try {
    const auto request = tern::parse_batch_line(std::string(tern::fuzz::as_text(data, size)), 1, defaults, id);
    if (request.generation.n_predict < -1 || request.generation.n_predict > tern::kMaxBatchPredict) __builtin_trap();
    request.sampling.validate();  // what parse accepted must be valid
  } catch (const tern::Error&) {}
  return 0;
}
