#pragma once
// Byte-level BPE merging: a pre-token (already in GPT-2's byte characters)
// starts as one symbol per byte; the adjacent pair with the best merge rank
// (lowest; ties: leftmost) merges until no pair has a rank.
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/tokenizer.h"

namespace tern {

class ByteLevelBpe {
 public:
  // Builds the lookup tables once: piece -> id and (left id, right id) ->
  // (rank, merged id). Throws tern::Error naming `source` if a merge names a
  // piece the vocabulary lacks.
  ByteLevelBpe(const Vocab& vocab, std::string_view source);

  // Appends the ids of one pre-token.
  void encode(std::string_view pre_token, std::vector<int32_t>& out) const;

  // The id of the piece, or -1.
  int32_t find(std::string_view piece) const {
    const auto it = piece_ids_.find(piece);
    return it == piece_ids_.end() ? -1 : it->second;
  }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;  // id of the piece the pair becomes
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  std::unordered_map<std::string_view, int32_t> piece_ids_;  // views into the Vocab's pieces
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t unk_id_ = -1;  // for a byte the vocabulary has no piece for
  bool ignore_merges_ = false;
};

}  // namespace tern
