#pragma once
// Multi-sequence batched decoding (continuous batching): up to `parallel` independent
// sequences live at once, each with its own KV cache, sampler, stop strings and text
// stream, all decoded together one token each per forward pass (every weight read once
// per pass). What `tern batch` runs, and what a server needs:
//
//   BatchRunner runner(model, {.parallel = 8, .n_ctx = 512});
//   while (more requests or runner.live() > 0) {
//     while (runner.free_slots() > 0 && more requests)
//       if (auto r = runner.add(next request)) ... r->id was rejected or ended at once ...
//     for (SequenceResult& r : runner.step()) ... r.id finished ...
//   }
//
// add() prefills the prompt and draws the first token at once; step() runs one decode
// pass over every live sequence. Results are deterministic: a sequence's logits do not
// depend on what else shares its batch and each sequence samples with its own seeded
// RNG, so a request gives the same text whatever `parallel` is, and the same text as
// Generator with the same parameters.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tern/generator.h"
#include "tern/kv_type.h"
#include "tern/model.h"
#include "tern/sampler.h"

namespace tern {

struct SequenceRequest {
  uint64_t id = 0;     // the caller's handle, returned in the result
  std::string prompt;  // BOS first when the vocabulary wants it; empty: BOS alone
  std::vector<int32_t>
      prompt_tokens;  // not empty: the prompt already tokenized (e.g. by a chat template); `prompt` is ignored
  GenerationParams generation;  // n_predict (-1: until the context is full), stop strings, EOS
  SamplerParams sampling;
  TextSink on_text;  // optional streaming; returning false cancels the sequence
};

struct SequenceResult {
  uint64_t id = 0;
  std::string error;            // non-empty: the request was rejected (e.g. prompt too long), nothing else is set
  GenerationResult generation;  // text, tokens, finish reason, n_prompt / n_generated
  double ms = 0;                // from taking a slot to finishing
};

struct BatchParams {
  int parallel = 8;              // sequences live at once
  int64_t n_ctx = 0;             // context of each sequence (prompt + generation); required
  KvType kv_type = KvType::F32;  // element type of the sequences' KV caches
  int threads = 0;               // threads of the runner's pool, the caller included; 0 = the model's default
};

struct BatchStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
};

class BatchRunner {
 public:
  // Allocates the scratch, the thread pool and `parallel` KV caches once. Throws
  // tern::Error when parallel or n_ctx is not positive.
  BatchRunner(const Model& model, const BatchParams& params);
  ~BatchRunner();
  BatchRunner(const BatchRunner&) = delete;
  BatchRunner& operator=(const BatchRunner&) = delete;

  int free_slots() const;
  int live() const;

  // Takes a request into a free slot: checks it, tokenizes and prefills the prompt and
  // draws the first token. Returns its result at once when it is rejected (error set)
  // or ends at that first token (the slot is then free again); nothing while it is live.
  // Throws tern::Error when no slot is free.
  std::optional<SequenceResult> add(SequenceRequest request);

  // One decode pass over every live sequence, one token each (nothing when none is
  // live). Returns the sequences that finished in it, in slot order; their slots are
  // free again.
  std::vector<SequenceResult> step();

  const BatchStats& stats() const;
  int parallel() const;
  int64_t n_ctx() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- `tern batch` input lines

// What a request that sets nothing gets (the command line's flags).
struct BatchDefaults {
  int32_t n_predict = 128;
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool text = false;  // plain text: the whole line is the prompt, id = line number
};

// The largest n_predict a request may ask for (as tern batch -n).
inline constexpr int32_t kMaxBatchPredict = int32_t{1} << 30;

// Parses a JSONL line {"id", "prompt", "n_predict", "temperature", "top_k", "top_p",
// "min_p", "repeat_penalty", "seed", "stop"} into a request (its id left for the caller).
// Integers must be exact and in range and floats finite; anything else throws
// tern::Error naming the line and key. `id_json` is set (the line's "id" as JSON text,
// else its number) before anything can throw, so an error record carries it.
SequenceRequest parse_batch_line(const std::string& line, size_t line_number, const BatchDefaults& defaults,
                                 std::string& id_json);

}  // namespace tern
