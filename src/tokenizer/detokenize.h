#pragma once
// The one decoding state machine behind both Tokenizer::decode and
// StreamDecoder, so that streaming output always equals batch output.
//
// It mirrors sentencepiece's DecodeIds:
//  * control tokens produce nothing;
//  * the unknown token produces " ⁇ ";
//  * runs of consecutive byte tokens are decoded as UTF-8, each byte that does
//    not start a complete valid sequence within its run becoming U+FFFD (so
//    any other token, even a control token, cuts a character in two);
//  * until the first visible token (any byte token counts), a piece loses one
//    leading '▁' -- the space add_space_prefix added. A piece that was only
//    that '▁' also ends this "at start" state.
// Byte-level BPE: a normal piece's characters map back to bytes, which join
// the pending bytes (so a character split across tokens is held until whole);
// added tokens are their raw text; control tokens produce nothing.
#include <cstdint>
#include <string>

#include "tern/tokenizer.h"

namespace tern {

struct DetokenizeState {
  std::string pending;   // byte-token bytes not yet forming a complete character
  bool at_start = true;  // strip the next leading '▁' (see above)
};

// Appends the text `id` completes. Throws tern::Error if id is out of range.
void detokenize_step(const Tokenizer& tokenizer, DetokenizeState& state, int32_t id, std::string& out);

// Appends whatever is pending, bytes that cannot complete replaced by U+FFFD.
void detokenize_finish(DetokenizeState& state, std::string& out);

}  // namespace tern
