#pragma once
// What a Tokenizer shares between its copies: the vocabulary and the lookup
// tables built from it. Immutable once built, so sharing needs no locking.
#include "tern/tokenizer.h"
#include "tokenizer/vocab.h"

namespace tern {

struct Tokenizer::Impl {
  explicit Impl(Vocab v) : vocab(std::move(v)), index(vocab) {}
  Impl(const Impl&) = delete;  // index holds views into vocab.pieces
  Impl& operator=(const Impl&) = delete;

  Vocab vocab;       // declared before index: index is built from it
  VocabIndex index;
};

}  // namespace tern
