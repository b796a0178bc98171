#pragma once
// Continuous batching: many independent requests, up to `parallel` of them live at
// once, each with its own KV cache, sampler, detokenizer and stop strings. Every step
// prefills the prompts that just took a free slot (one pass per prompt chunk) and
// then runs one batched decode pass over every live sequence, one token each. When a
// sequence finishes, its slot takes the next request.
//
// Results are deterministic: a sequence's logits do not depend on what else shares
// its batch (see model/multi_forward.h) and each sequence samples with its own
// seeded RNG, so a request gives the same text whatever `parallel` is.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/generator.h"
#include "tern/model.h"
#include "tern/sampler.h"

namespace tern {

struct BatchRequest {
  nlohmann::json id;
  std::string prompt;
  std::vector<int32_t> prompt_tokens;  // not empty: the prompt already tokenized (e.g. a chat template's)
  std::vector<int32_t> end_tokens;     // besides EOS, tokens that end the text (a template's end of turn)
  int32_t n_predict = 128;  // -1: until the sequence's context is full
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

struct BatchStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
};

class BatchRunner {
 public:
  // n_ctx: context of each sequence (tokens of prompt + generation); kv_type: the
  // element type of the sequences' KV caches.
  BatchRunner(const Model& model, int parallel, int64_t n_ctx, KvType kv_type = KvType::F32);
  ~BatchRunner();

  // next(): the next request, or nullopt when there are no more.
  // on_result(): called once per request as it finishes (or fails), in completion order.
  // take_more(): false stops taking new requests (live ones still finish).
  // abandon(): true drops the live sequences unreported and returns at once.
  // on_text() (optional): called after every generated token with the text it released
  // (empty while a UTF-8 character or a possible stop string is incomplete) and the
  // result so far; false cancels that sequence (finish Cancelled, reported as usual).
  // wait_for_requests() (optional, for a server): set, next() returning nothing means
  // "nothing yet", not "no more"; it is called when no sequence is live, blocks until a
  // request may have arrived and returns false to end run().
  struct Callbacks {
    std::function<std::optional<BatchRequest>()> next;
    std::function<void(BatchResult)> on_result;
    std::function<bool()> take_more = [] { return true; };
    std::function<bool()> abandon = [] { return false; };
    std::function<bool(const BatchResult& so_far, std::string_view piece)> on_text;
    std::function<bool()> wait_for_requests;
  };
  void run(const Callbacks& callbacks);

  const BatchStats& stats() const { return stats_; }
  int parallel() const { return parallel_; }
  int64_t n_ctx() const { return n_ctx_; }

 private:
  struct Slot;
  bool admit(Slot& slot, BatchRequest request, const Callbacks& callbacks);
  // The slot's next token drawn from its logits by its own sampler, or nothing once it
  // has generated its n_predict tokens. Touches only the slot: slots draw in parallel.
  static std::optional<int32_t> draw(Slot& slot);
  // Takes the drawn token (text, stop strings, limits); false once the slot finished.
  bool advance(Slot& slot, std::optional<int32_t> drawn, const Callbacks& callbacks);
  BatchResult finish(Slot& slot, const Callbacks& callbacks);

  const Model& model_;
  int parallel_;
  int64_t n_ctx_;
  std::unique_ptr<ForwardScratch> scratch_;
  std::vector<std::unique_ptr<Slot>> slots_;
  BatchStats stats_;
};

}  // namespace tern
