#include "tern/generator.h"

#include "generation/sequence.h"
#include "tern/error.h"

namespace tern {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Eos: return "eos";
    case FinishReason::Length: return "length";
    case FinishReason::Stop: return "stop";
    case FinishReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

Generator::Generator(Context& context, const SamplerParams& sampling) : context_(context), sampler_(sampling) {
  sampling.validate();
}

std::vector<int32_t> Generator::tokenize_prompt(std::string_view prompt) const {
  return prompt_tokens(context_.model().tokenizer(), prompt, context_.n_past(), context_.n_ctx());
}

void Generator::rewind(int64_t n) {
  if (n < 0 || n > static_cast<int64_t>(history_.size()))
    fail("cannot rewind to {} tokens: the context holds {}", n, history_.size());
  context_.truncate(n);
  history_.resize(static_cast<std::size_t>(n));
}

GenerationResult Generator::generate(std::string_view prompt, const GenerationParams& params, const TextSink& sink) {
  return generate(tokenize_prompt(prompt), params, sink);
}

GenerationResult Generator::generate(const std::vector<int32_t>& prompt_tokens, const GenerationParams& params,
                                     const TextSink& sink) {
  validate_generation(params);
  if (static_cast<int64_t>(prompt_tokens.size()) > context_.n_ctx() - context_.n_past())
    fail("prompt of {} tokens does not fit the context", prompt_tokens.size());
  SequenceStep step(context_.model().tokenizer(), params, sink, history_, prompt_tokens);
  const auto prompt_start = Clock::now();
  auto logits = context_.prefill(prompt_tokens);
  const double prompt_seconds = seconds_since(prompt_start);
  history_.insert(history_.end(), prompt_tokens.begin(), prompt_tokens.end());

  const auto generation_start = Clock::now();
  while (true) {
    const auto drawn = step.draw(sampler_, logits, history_);
    const auto next = step.accept(drawn, context_.n_past() >= context_.n_ctx());
    if (next == SequenceStep::Next::End) break;
    // Run even when ending here, so the context (and history) holds everything shown.
    logits = context_.decode(*drawn);
    history_.push_back(*drawn);
    if (next == SequenceStep::Next::FeedAndEnd) break;
  }
  step.finish();
  GenerationResult result = std::move(step.result());
  result.timings.prompt_seconds = prompt_seconds;
  result.timings.generation_seconds = seconds_since(generation_start);
  return result;
}

}  // namespace tern
