#include "tern/generator.h"

#include <algorithm>

#include "generation/prompt_bound.h"
#include "generation/stop_strings.h"
#include "tern/error.h"

namespace tern {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Streams text through the stop-string filter to the caller's sink, remembering
// whether the caller asked to stop.
class Output {
 public:
  Output(const GenerationParams& params, const TextSink& sink, GenerationResult& result)
      : stops_(params.stop), sink_(sink), result_(result) {}

  // False once the caller cancelled or a stop string completed.
  bool emit(const std::string& piece) {
    const std::string safe = stops_.push(piece);
    if (!safe.empty()) {
      result_.text += safe;
      if (sink_ && !sink_(safe)) cancelled_ = true;
    }
    return !cancelled_ && !stops_.stopped();
  }
  void finish() {
    if (stops_.stopped() || cancelled_) return;
    const std::string rest = stops_.flush();
    if (rest.empty()) return;
    result_.text += rest;
    if (sink_) sink_(rest);
  }
  bool stopped() const { return stops_.stopped(); }
  bool cancelled() const { return cancelled_; }

 private:
  StopStrings stops_;
  const TextSink& sink_;
  GenerationResult& result_;
  bool cancelled_ = false;
};

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
  const Tokenizer& tok = context_.model().tokenizer();
  const bool first_turn = context_.n_past() == 0;
  check_prompt_bytes(tok, prompt, context_.n_ctx() - context_.n_past());
  auto tokens = tok.encode(prompt, first_turn && tok.vocab().add_bos);
  if (tokens.empty()) {
    if (!first_turn) fail("empty prompt: a turn needs some text");
    tokens.push_back(tok.bos());  // an empty first prompt still needs a first token
  }
  const int64_t room = context_.n_ctx() - context_.n_past();
  if (static_cast<int64_t>(tokens.size()) > room)
    fail("prompt is {} tokens but only {} of the context's {} remain (raise -c or shorten the prompt)", tokens.size(),
         room, context_.n_ctx());
  return tokens;
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
  if (params.n_predict < -1) fail("-n must be -1 (until the context is full) or >= 0, got {}", params.n_predict);
  if (static_cast<int64_t>(prompt_tokens.size()) > context_.n_ctx() - context_.n_past())
    fail("prompt of {} tokens does not fit the context", prompt_tokens.size());
  GenerationResult result;
  result.timings.n_prompt = static_cast<int64_t>(prompt_tokens.size());
  const auto prompt_start = Clock::now();
  auto logits = context_.prefill(prompt_tokens);
  result.timings.prompt_seconds = seconds_since(prompt_start);
  history_.insert(history_.end(), prompt_tokens.begin(), prompt_tokens.end());

  const Tokenizer& tok = context_.model().tokenizer();
  // Only a generation that starts right after BOS drops the first token's leading space.
  const bool starts_text = history_.size() == 1 && prompt_tokens.size() == 1 && prompt_tokens[0] == tok.bos();
  StreamDecoder decoder(tok, starts_text);
  Output output(params, sink, result);
  const auto generation_start = Clock::now();
  result.finish = FinishReason::Length;
  for (int64_t i = 0; params.n_predict < 0 || i < params.n_predict; ++i) {
    const int32_t token = sampler_.sample(logits, history_);
    if ((params.stop_at_eos && token == tok.eos()) ||
        std::find(params.stop_tokens.begin(), params.stop_tokens.end(), token) != params.stop_tokens.end()) {
      result.finish = FinishReason::Eos;
      break;
    }
    result.tokens.push_back(token);
    const bool keep_going = output.emit(decoder.push(token));
    if (context_.n_past() >= context_.n_ctx()) break;  // context full: the token is shown but cannot be fed back
    // Fed back even when stopping, so the context (and history) holds everything shown.
    logits = context_.decode(token);
    history_.push_back(token);
    if (!keep_going) break;
  }
  if (output.stopped()) result.finish = FinishReason::Stop;
  else if (output.cancelled()) result.finish = FinishReason::Cancelled;
  if (!output.stopped() && !output.cancelled()) output.emit(decoder.flush());
  output.finish();
  result.timings.n_generated = static_cast<int64_t>(result.tokens.size());
  result.timings.generation_seconds = seconds_since(generation_start);
  return result;
}

}  // namespace tern
