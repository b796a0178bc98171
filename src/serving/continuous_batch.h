#pragma once
// Continuous batching pulled by callbacks, on the public BatchRunner (tern/batch.h):
// what `tern batch` and `tern serve` run. Free slots take the next requests, every
// step decodes all live sequences together, a finished sequence's slot takes the next
// request. Requests and results carry the caller's JSON id.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/batch.h"
#include "tern/generator.h"
#include "tern/sampler.h"

namespace tern {

struct BatchRequest {
  nlohmann::json id;
  std::string prompt;
  std::vector<int32_t> prompt_tokens;  // not empty: the prompt already tokenized (e.g. a chat template's)
  std::vector<int32_t> end_tokens;     // besides EOS, tokens that end the text (a template's end of turn)
  int32_t n_predict = 128;             // -1: until the sequence's context is full
  SamplerParams sampling;
  std::vector<std::string> stop;
};

struct BatchResult {
  nlohmann::json id;
  std::string error;  // non-empty: the request failed (e.g. prompt too long), nothing else is set
  std::string text;
  int64_t tokens_prompt = 0;
  int64_t tokens_generated = 0;
  FinishReason finish = FinishReason::Length;
  double ms = 0;  // from taking a slot to finishing
};

// next(): the next request, or nullopt when there are no more.
// on_result(): called once per request as it finishes (or fails), in completion order.
// take_more(): false stops taking new requests (live ones still finish).
// abandon(): true drops the live sequences unreported and returns at once.
// on_text() (optional): called with each piece of text a sequence releases and the
// result so far (its id); false cancels that sequence (finish Cancelled, reported as usual).
// wait_for_requests() (optional, for a server): set, next() returning nothing means
// "nothing yet", not "no more"; it is called when no sequence is live, blocks until a
// request may have arrived and returns false to end the run.
struct ContinuousCallbacks {
  std::function<std::optional<BatchRequest>()> next;
  std::function<void(BatchResult)> on_result;
  std::function<bool()> take_more = [] { return true; };
  std::function<bool()> abandon = [] { return false; };
  std::function<bool(const BatchResult& so_far, std::string_view piece)> on_text;
  std::function<bool()> wait_for_requests;
};

void run_continuous(BatchRunner& runner, const ContinuousCallbacks& callbacks);

// A parsed `tern batch` line (parse_batch_line) as a request with its JSON id.
BatchRequest batch_request_of(SequenceRequest parsed, const std::string& id_json);

}  // namespace tern
