#include "serving/continuous_batch.h"

#include <map>
#include <utility>

namespace tern {
namespace {

SequenceRequest to_sequence(BatchRequest request, uint64_t id, const nlohmann::json& caller_id,
                            const ContinuousCallbacks& cb) {
  SequenceRequest s;
  s.id = id;
  s.prompt = std::move(request.prompt);
  s.prompt_tokens = std::move(request.prompt_tokens);
  s.generation.n_predict = request.n_predict;
  s.generation.stop = std::move(request.stop);
  s.generation.stop_tokens = std::move(request.end_tokens);
  s.sampling = request.sampling;
  if (cb.on_text) {
    BatchResult so_far;
    so_far.id = caller_id;
    s.on_text = [&cb, so_far = std::move(so_far)](std::string_view piece) { return cb.on_text(so_far, piece); };
  }
  return s;
}

BatchResult to_batch_result(SequenceResult r, nlohmann::json caller_id) {
  BatchResult b;
  b.id = std::move(caller_id);
  b.error = std::move(r.error);
  b.text = std::move(r.generation.text);
  b.tokens_prompt = r.generation.timings.n_prompt;
  b.tokens_generated = r.generation.timings.n_generated;
  b.finish = r.generation.finish;
  b.ms = r.ms;
  return b;
}

}  // namespace

BatchRequest batch_request_of(SequenceRequest parsed, const std::string& id_json) {
  BatchRequest r;
  r.id = nlohmann::json::parse(id_json);
  r.prompt = std::move(parsed.prompt);
  r.prompt_tokens = std::move(parsed.prompt_tokens);
  r.n_predict = parsed.generation.n_predict;
  r.sampling = parsed.sampling;
  r.stop = std::move(parsed.generation.stop);
  return r;
}

void run_continuous(BatchRunner& runner, const ContinuousCallbacks& cb) {
  std::map<uint64_t, nlohmann::json> caller_ids;  // the live requests' own ids
  uint64_t next_id = 0;
  auto report = [&](SequenceResult r) {
    const auto it = caller_ids.find(r.id);
    BatchResult b = to_batch_result(std::move(r), std::move(it->second));
    caller_ids.erase(it);
    cb.on_result(std::move(b));
  };
  bool exhausted = false;
  while (true) {
    if (cb.abandon()) return;
    if (cb.wait_for_requests) exhausted = false;  // a server's queue refills
    while (runner.free_slots() > 0 && !exhausted && cb.take_more() && !cb.abandon()) {
      std::optional<BatchRequest> request = cb.next();
      if (!request) {
        exhausted = true;
        break;
      }
      const uint64_t id = next_id++;
      const nlohmann::json& caller_id = caller_ids[id] = std::move(request->id);
      if (auto ended = runner.add(to_sequence(std::move(*request), id, caller_id, cb))) report(std::move(*ended));
    }
    if (cb.abandon()) return;
    if (runner.live() == 0) {
      if (!cb.take_more()) return;
      if (cb.wait_for_requests) {
        if (!cb.wait_for_requests()) return;
      } else if (exhausted) {
        return;
      }
      continue;
    }
    for (SequenceResult& r : runner.step()) report(std::move(r));
  }
}

}  // namespace tern
