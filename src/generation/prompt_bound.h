#pragma once
// A cheap check before tokenizing: a prompt far longer than the context could take
// would otherwise be tokenized in full (seconds, hundreds of MB) only to be refused.
#include <cstdint>
#include <string_view>

#include "tern/tokenizer.h"

namespace tern {

// Throws tern::Error when `prompt` certainly needs more than `room` tokens. A token
// covers at most the bytes of the longest piece (and an unknown token one UTF-8
// character), and normalization removes nothing but spaces, so a prompt with more
// non-space bytes than room * that length cannot fit.
void check_prompt_bytes(const Tokenizer& tokenizer, std::string_view prompt, int64_t room);

}  // namespace tern
