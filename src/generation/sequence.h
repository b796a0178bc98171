#pragma once
// One sequence's generation step, the one place the rules of generation live: what a
// prompt becomes (BOS, the empty prompt, the room left), how the next token is drawn,
// when generation ends (EOS, n_predict, stop strings, a cancelled stream, a full
// context), how text streams (whole UTF-8 characters, never part of a stop string) and
// the final flush. Generator (`tern run`, `run -i`) and BatchRunner (`tern batch`, a
// server) differ only in how they run the forward passes around it.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "generation/stop_strings.h"
#include "tern/generator.h"
#include "tern/sampler.h"
#include "tern/tokenizer.h"

namespace tern {

// The tokens a prompt runs as in a context holding n_past of n_ctx tokens: BOS first on
// an empty context when the vocabulary wants it; an empty first prompt is BOS alone (a
// later empty turn is an error). Throws tern::Error when they do not fit.
std::vector<int32_t> prompt_tokens(const Tokenizer& tokenizer, std::string_view prompt, int64_t n_past, int64_t n_ctx);

// Checks what a caller may get wrong in GenerationParams (throws tern::Error).
void validate_generation(const GenerationParams& params);

class SequenceStep {
 public:
  // What the caller does with the token accept() took.
  enum class Next {
    Feed,        // run it (decode) and continue
    FeedAndEnd,  // generation ended (stop string, cancelled) after showing it: run it if the
                 // context lives on (a chat's next turn), then finish()
    End,         // generation ended without it being run: finish()
  };

  // history_before: the tokens in the context before this prompt (a chat's earlier
  // turns); prompt: what was just prefilled. `sink` may be empty.
  SequenceStep(const Tokenizer& tokenizer, const GenerationParams& params, TextSink sink,
               std::span<const int32_t> history_before, std::span<const int32_t> prompt);

  // The next token drawn from `logits` by `sampler` (history: every token in the context,
  // oldest first), or nothing once n_predict tokens are out. Touches only the sampler,
  // so sequences draw in parallel.
  std::optional<int32_t> draw(Sampler& sampler, std::span<const float> logits,
                              const std::vector<int32_t>& history) const;

  // Takes what draw() returned: EOS and n_predict end the sequence; a token is recorded,
  // decoded and streamed through the stop strings. context_full: no room is left to run
  // the token (it is still shown).
  Next accept(std::optional<int32_t> drawn, bool context_full);

  // The final flush (text held for a UTF-8 character or a possible stop string) and the
  // finish reason. Call once, after accept() returned End or FeedAndEnd.
  void finish();

  GenerationResult& result() { return result_; }

 private:
  void emit(const std::string& piece);  // through the stop strings to the result and sink

  const Tokenizer& tokenizer_;
  int32_t n_predict_;
  bool stop_at_eos_;
  std::vector<int32_t> stop_tokens_;  // end the sequence like EOS (a chat template's end-of-turn)
  TextSink sink_;
  StreamDecoder decoder_;
  StopStrings stops_;
  bool cancelled_ = false;
  GenerationResult result_;
};

}  // namespace tern
