#pragma once
// Lookup tables derived once from a validated Vocab. Keys are string_views into
// the Vocab's own pieces, so a VocabIndex must live beside (and never outlive)
// the Vocab it was built from; Tokenizer::Impl keeps the two together.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "tern/tokenizer.h"

namespace tern {

// "<0x0A>" -> 0x0A; anything else -> nullopt. Only upper-case hex, exactly two
// digits, as sentencepiece writes them.
std::optional<uint8_t> parse_byte_piece(std::string_view piece);

// The '▁' (U+2581) sentencepiece uses in pieces in place of a space.
inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";

struct VocabIndex {
  // Pieces that text may be merged into: Normal, UserDefined and Unused (the
  // last are re-split after merging, as sentencepiece does). Control, Unknown
  // and Byte pieces are deliberately absent: text "<s>" or "<0x41>" must never
  // turn into those tokens.
  std::unordered_map<std::string_view, int32_t> mergeable;
  // byte value -> id of its <0xNN> token, or -1.
  std::array<int32_t, 256> byte_ids{};
  bool byte_fallback = false;  // all 256 byte tokens exist
  // UserDefined pieces are atomic: matched longest-first before merging.
  std::unordered_map<std::string_view, int32_t> user_defined;
  std::size_t max_user_defined_bytes = 0;

  explicit VocabIndex(const Vocab& vocab);
  int32_t find(std::string_view piece) const {
    const auto it = mergeable.find(piece);
    return it == mergeable.end() ? -1 : it->second;
  }
};

}  // namespace tern
