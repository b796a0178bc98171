#pragma once
// Reads bitllama2.c ternary checkpoints ("ak42" files) into a ModelDraft.
#include <filesystem>

#include "convert/model_draft.h"

namespace tern {

// True when the file starts with the bitllama2.c magic.
bool is_bitllama2c_file(const std::filesystem::path& path);

// The checkpoint's layout (256-byte header; final norm; embedding; per matrix kind and
// layer an fp32 scale then 2-bit weights, first weight of a byte in bits 7..6, codes
// 00 = 0, 01 = +1, 11 = -1) becomes a plain `mobilellm` draft: its weightless
// x / (n * rms(x)) input norm is the in-linear norm with epsilon 0, and the 1/n is
// folded into each weight scale. The draft's vocab is left empty (the tokenizer comes
// from a separate file).
ModelDraft read_bitllama2c(const std::filesystem::path& path);

}  // namespace tern
