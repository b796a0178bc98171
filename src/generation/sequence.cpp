#include "generation/sequence.h"

#include <algorithm>

#include "generation/prompt_bound.h"
#include "tern/error.h"

namespace tern {

std::vector<int32_t> prompt_tokens(const Tokenizer& tokenizer, std::string_view prompt, int64_t n_past, int64_t n_ctx) {
  const bool first_turn = n_past == 0;
  check_prompt_bytes(tokenizer, prompt, n_ctx - n_past);  // refuses a far too long prompt before tokenizing it
  auto tokens = tokenizer.encode(prompt, first_turn && tokenizer.vocab().add_bos);
  if (tokens.empty()) {
    if (!first_turn) fail("empty prompt: a turn needs some text");
    tokens.push_back(tokenizer.bos());  // an empty first prompt still needs a first token
  }
  const int64_t room = n_ctx - n_past;
  if (static_cast<int64_t>(tokens.size()) > room) {
    if (first_turn)
      fail("prompt is {} tokens but the context is {} (raise -c or shorten the prompt)", tokens.size(), n_ctx);
    fail("prompt is {} tokens but only {} of the context's {} remain (raise -c or shorten the prompt)", tokens.size(),
         room, n_ctx);
  }
  return tokens;
}

void validate_generation(const GenerationParams& params) {
  if (params.n_predict < -1) fail("n_predict must be -1 (until the context is full) or >= 0, got {}", params.n_predict);
}

namespace {

// Only a generation that starts right after BOS drops the first token's leading space
// (as decode() does); anything else continues text already there.
bool starts_text(const Tokenizer& tokenizer, std::span<const int32_t> history_before, std::span<const int32_t> prompt) {
  return history_before.empty() && prompt.size() == 1 && prompt[0] == tokenizer.bos();
}

}  // namespace

SequenceStep::SequenceStep(const Tokenizer& tokenizer, const GenerationParams& params, TextSink sink,
                           std::span<const int32_t> history_before, std::span<const int32_t> prompt)
    : tokenizer_(tokenizer),
      n_predict_(params.n_predict),
      stop_at_eos_(params.stop_at_eos),
      stop_tokens_(params.stop_tokens),
      sink_(std::move(sink)),
      decoder_(tokenizer, starts_text(tokenizer, history_before, prompt)),
      stops_(params.stop) {
  validate_generation(params);
  result_.finish = FinishReason::Length;
  result_.timings.n_prompt = static_cast<int64_t>(prompt.size());
}

std::optional<int32_t> SequenceStep::draw(Sampler& sampler, std::span<const float> logits,
                                          const std::vector<int32_t>& history) const {
  if (n_predict_ >= 0 && static_cast<int64_t>(result_.tokens.size()) >= n_predict_) return std::nullopt;
  return sampler.sample(logits, history);
}

void SequenceStep::emit(const std::string& piece) {
  const std::string safe = stops_.push(piece);
  if (safe.empty()) return;
  result_.text += safe;
  if (sink_ && !sink_(safe)) cancelled_ = true;
}

SequenceStep::Next SequenceStep::accept(std::optional<int32_t> drawn, bool context_full) {
  if (!drawn) {
    result_.finish = FinishReason::Length;
    return Next::End;
  }
  if ((stop_at_eos_ && *drawn == tokenizer_.eos()) ||
      std::find(stop_tokens_.begin(), stop_tokens_.end(), *drawn) != stop_tokens_.end()) {
    result_.finish = FinishReason::Eos;
    return Next::End;
  }
  result_.tokens.push_back(*drawn);
  result_.timings.n_generated = static_cast<int64_t>(result_.tokens.size());
  emit(decoder_.push(*drawn));
  const bool ended = stops_.stopped() || cancelled_;
  if (stops_.stopped()) result_.finish = FinishReason::Stop;
  else if (cancelled_) result_.finish = FinishReason::Cancelled;
  if (context_full) {  // the token is shown but cannot be run
    if (!ended) result_.finish = FinishReason::Length;
    return Next::End;
  }
  return ended ? Next::FeedAndEnd : Next::Feed;
}

void SequenceStep::finish() {
  if (stops_.stopped() || cancelled_) return;
  emit(decoder_.flush());
  if (stops_.stopped()) {
    result_.finish = FinishReason::Stop;
    return;
  }
  if (cancelled_) return;
  const std::string rest = stops_.flush();
  if (rest.empty()) return;
  result_.text += rest;
  if (sink_) sink_(rest);
}

}  // namespace tern
