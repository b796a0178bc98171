#include "tokenizer/vocab.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tern/error.h"
#include "tokenizer/utf8.h"

namespace tern {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_known_type(TokenType t) {
  const auto v = static_cast<int32_t>(t);
  return v >= static_cast<int32_t>(TokenType::Normal) && v <= static_cast<int32_t>(TokenType::Byte);
}

// Special ids may be -1 ("none") or a valid index.
void check_id(std::string_view source, const char* what, int32_t id, int32_t n_vocab) {
  if (id < -1 || id >= n_vocab)
    fail("{}: {} {} is out of range for a vocabulary of {} tokens", source, what, id, n_vocab);
}

}  // namespace

std::optional<uint8_t> parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return std::nullopt;
  const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

void Vocab::validate(std::string_view source) const {
  if (pieces.empty()) fail("{}: the vocabulary is empty", source);
  if (pieces.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max()))
    fail("{}: {} tokens do not fit 32-bit token ids", source, pieces.size());
  if (scores.size() != pieces.size() || types.size() != pieces.size())
    fail("{}: vocabulary arrays disagree: {} pieces, {} scores, {} types", source, pieces.size(), scores.size(),
         types.size());
  const int32_t n = size();
  check_id(source, "bos id", bos_id, n);
  check_id(source, "eos id", eos_id, n);
  check_id(source, "unk id", unk_id, n);
  check_id(source, "pad id", pad_id, n);

  int n_byte_tokens = 0;
  for (int32_t id = 0; id < n; ++id) {
    if (!is_known_type(types[id]))
      fail("{}: token {} has unknown type {}", source, id, static_cast<int32_t>(types[id]));
    if (std::isnan(scores[id])) fail("{}: token {} has a NaN score", source, id);
    // Decoders promise valid UTF-8 out; that needs valid UTF-8 pieces in.
    if (const auto bad = utf8::first_invalid_offset(pieces[id]))
      fail("{}: piece of token {} is not valid UTF-8 (byte {})", source, id, *bad);
    if (types[id] == TokenType::Byte) {
      if (!parse_byte_piece(pieces[id]))
        fail("{}: byte token {} has piece '{}', expected the form <0xNN>", source, id, pieces[id]);
      ++n_byte_tokens;
    }
  }
  if (model == TokenizerModel::ByteLevelBpe) {
    if (n_byte_tokens > 0)
      fail("{}: a byte-level BPE vocabulary has {} <0xNN> byte tokens, expected none", source, n_byte_tokens);
    if (merges.empty()) fail("{}: byte-level BPE vocabulary has no merges", source);
    return;  // every byte is a piece of its own: checked when the tokenizer is built
  }
  if (!merges.empty()) fail("{}: a SentencePiece vocabulary has {} merges, expected none", source, merges.size());
  // Without all 256 byte tokens, text outside the vocabulary maps to unk.
  if (n_byte_tokens < 256 && unk_id < 0)
    fail("{}: the vocabulary has neither an unk token nor all 256 byte tokens ({} found)", source, n_byte_tokens);
}

VocabIndex::VocabIndex(const Vocab& vocab) {
  byte_ids.fill(-1);
  if (vocab.model == TokenizerModel::ByteLevelBpe) return;  // ByteLevelBpe has its own tables
  int n_bytes = 0;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string_view piece = vocab.pieces[id];
    switch (vocab.types[id]) {
      case TokenType::Normal:
      case TokenType::Unused:
        // Later duplicates win, as in llama.cpp's token_to_id map.
        if (!piece.empty()) mergeable[piece] = id;
        break;
      case TokenType::UserDefined:
        if (!piece.empty()) {
          mergeable[piece] = id;
          user_defined[piece] = id;
          max_user_defined_bytes = std::max(max_user_defined_bytes, piece.size());
        }
        break;
      case TokenType::Byte: {
        const uint8_t b = *parse_byte_piece(piece);  // validate() guarantees the form
        if (byte_ids[b] < 0) ++n_bytes;
        byte_ids[b] = id;
        break;
      }
      case TokenType::Unknown:
      case TokenType::Control: break;
    }
  }
  byte_fallback = n_bytes == 256;
}

}  // namespace tern
