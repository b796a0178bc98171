#pragma once
// SentencePiece BPE encoding, split in its two stages so each can be tested.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tern/tokenizer.h"
#include "tokenizer/vocab.h"

namespace tern {

// sentencepiece's normalizer with the identity rule: optional whitespace
// cleanup, the dummy-prefix space, then ' ' -> '▁'. Input must be valid UTF-8.
std::string spm_normalize(const Vocab& vocab, std::string_view text);

// Appends the ids for already-normalized text: BPE merges by piece score, then
// every final symbol mapped to its id, with byte fallback (or unk) for symbols
// outside the vocabulary.
void spm_bpe_encode(const Vocab& vocab, const VocabIndex& index, std::string_view normalized,
                    std::vector<int32_t>& out);

}  // namespace tern
