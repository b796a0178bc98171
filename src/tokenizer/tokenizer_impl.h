#pragma once
// What a Tokenizer shares between its copies: the vocabulary and the lookup
// tables built from it. Immutable once built, so sharing needs no locking.
#include <optional>

#include "tern/tokenizer.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace tern {

// The byte-level BPE machinery; absent for SentencePiece vocabularies.
struct ByteLevelParts {
  ByteLevelParts(const Vocab& vocab, std::string_view source) : pre(vocab.pre_tokenizer), bpe(vocab, source) {}
  PreTokenizer pre;
  ByteLevelBpe bpe;
};

struct Tokenizer::Impl {
  explicit Impl(Vocab v)
      : vocab(std::move(v)),
        index(vocab),
        added(vocab, /*include_user_defined=*/vocab.model == TokenizerModel::ByteLevelBpe) {
    if (vocab.model == TokenizerModel::ByteLevelBpe) byte_level.emplace(vocab, "tokenizer vocabulary");
  }
  Impl(const Impl&) = delete;  // index holds views into vocab.pieces
  Impl& operator=(const Impl&) = delete;

  Vocab vocab;  // declared before index: index is built from it
  VocabIndex index;
  AddedTokens added;
  std::optional<ByteLevelParts> byte_level;
};

}  // namespace tern
