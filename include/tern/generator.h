#pragma once
// The generation loop: prompt -> prefill -> sample/decode until a stop condition,
// streaming text as it is produced.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/model.h"
#include "tern/sampler.h"

namespace tern {

struct GenerationParams {
  int32_t n_predict = 128;        // tokens to generate at most; -1 = until the context is full
  std::vector<std::string> stop;  // generation ends before the first of these strings
  bool stop_at_eos = true;
  std::vector<int32_t> stop_tokens;  // like EOS: ends generation, not shown, not fed back (end-of-turn)
};

enum class FinishReason { Eos, Length, Stop, Cancelled };
std::string_view finish_reason_name(FinishReason reason);  // "eos", "length", "stop", "cancelled"

struct GenerationTimings {
  int64_t n_prompt = 0;
  int64_t n_generated = 0;
  double prompt_seconds = 0;
  double generation_seconds = 0;
  double prompt_tokens_per_second() const { return prompt_seconds > 0 ? n_prompt / prompt_seconds : 0; }
  double generation_tokens_per_second() const { return generation_seconds > 0 ? n_generated / generation_seconds : 0; }
};

struct GenerationResult {
  std::string text;             // generated text (without prompt, without the stop string)
  std::vector<int32_t> tokens;  // generated token ids
  FinishReason finish = FinishReason::Length;
  GenerationTimings timings;
};

// Receives each piece of generated text as soon as it is complete UTF-8. Returning
// false cancels the generation (e.g. on Ctrl-C).
using TextSink = std::function<bool(std::string_view)>;

// Runs turns of generation on one Context. The context (and the token history used by
// the repetition penalty) carries over between calls, so a chat keeps its memory.
class Generator {
 public:
  Generator(Context& context, const SamplerParams& sampling);

  // Tokenizes `prompt` (BOS first when the context is empty and the vocab wants it),
  // checks it fits the context, prefills it and generates. Throws tern::Error when the
  // prompt does not fit.
  GenerationResult generate(std::string_view prompt, const GenerationParams& params, const TextSink& sink);

  // The two halves of the above: tokenize (BOS first on an empty context) and check
  // the prompt fits, then run it. Lets a caller reject a prompt before showing it.
  std::vector<int32_t> tokenize_prompt(std::string_view prompt) const;
  GenerationResult generate(const std::vector<int32_t>& prompt_tokens, const GenerationParams& params,
                            const TextSink& sink);

  // Forgets everything after the first n tokens of the context (and history),
  // so a caller can replace the end of what the model has seen.
  void rewind(int64_t n);

  // Every token in the context, oldest first.
  const std::vector<int32_t>& history() const { return history_; }

 private:
  Context& context_;
  Sampler sampler_;
  std::vector<int32_t> history_;  // every token in the context, oldest first
};

}  // namespace tern
