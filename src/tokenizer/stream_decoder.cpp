// StreamDecoder is a thin holder of DetokenizeState (see detokenize.h): the
// same state machine decode() runs, advanced one token per push().
#include "tern/tokenizer.h"
#include "tokenizer/detokenize.h"

namespace tern {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space)
    : tokenizer_(&tokenizer), at_start_(strip_leading_space) {}

std::string StreamDecoder::push(int32_t id) {
  DetokenizeState state{std::move(pending_), at_start_};
  std::string out;
  try {
    detokenize_step(*tokenizer_, state, id, out);
  } catch (...) {  // a bad id leaves the decoder as it was
    pending_ = std::move(state.pending);
    throw;
  }
  pending_ = std::move(state.pending);
  at_start_ = state.at_start;
  return out;
}

std::string StreamDecoder::flush() {
  DetokenizeState state{std::move(pending_), at_start_};
  std::string out;
  detokenize_finish(state, out);
  pending_ = std::move(state.pending);
  return out;
}

}  // namespace tern
