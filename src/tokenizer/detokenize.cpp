#include "tokenizer/detokenize.h"

#include <string_view>

#include "tern/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace tern {
namespace {

// sentencepiece's default surface for the unknown token (TrainerSpec.unk_surface).
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";

// Moves complete characters (and bytes that can never complete, as U+FFFD)
// from state.pending to out. Unless `final`, a trailing incomplete sequence stays.
void drain(DetokenizeState& state, std::string& out, bool final) {
  const std::string_view pending = state.pending;
  std::size_t pos = 0;
  while (pos < pending.size()) {
    if (const std::size_t n = utf8::valid_sequence_length(pending, pos); n > 0) {
      out.append(pending.substr(pos, n));
      pos += n;
    } else if (!final && utf8::is_incomplete_prefix(pending.substr(pos))) {
      break;
    } else {
      out += utf8::kReplacement;
      ++pos;
    }
  }
  state.pending.erase(0, pos);
}

void append_with_spaces(std::string& out, std::string_view piece) {
  std::size_t pos;
  while ((pos = piece.find(kSpaceSymbol)) != std::string_view::npos) {
    out.append(piece.substr(0, pos));
    out += ' ';
    piece.remove_prefix(pos + kSpaceSymbol.size());
  }
  out.append(piece);
}

}  // namespace

void detokenize_step(const Tokenizer& tokenizer, DetokenizeState& state, int32_t id, std::string& out) {
  const Vocab& vocab = tokenizer.vocab();
  if (id < 0 || id >= vocab.size()) fail("cannot decode token id {}: the vocabulary has {} tokens", id, vocab.size());
  const TokenType type = vocab.types[id];
  if (type == TokenType::Byte) {
    state.pending += static_cast<char>(*parse_byte_piece(vocab.pieces[id]));
    state.at_start = false;
    drain(state, out, /*final=*/false);
    return;
  }
  if (vocab.model == TokenizerModel::ByteLevelBpe && type != TokenType::Control) {
    // Normal pieces are GPT-2 byte characters; added tokens are raw text.
    state.at_start = false;
    if (auto bytes = byte_level::decode(vocab.pieces[id]); bytes && type != TokenType::UserDefined) {
      state.pending += *bytes;
      drain(state, out, /*final=*/false);
      return;
    }
    drain(state, out, /*final=*/true);
    out += vocab.pieces[id];
    return;
  }
  drain(state, out, /*final=*/true);  // any other token, control included, ends a byte run
  if (type == TokenType::Control) return;
  if (type == TokenType::Unknown) {
    out += kUnknownSurface;
    state.at_start = false;
    return;
  }
  std::string_view piece = vocab.pieces[id];
  bool stripped = false;
  if (state.at_start && (vocab.add_space_prefix || vocab.remove_extra_whitespaces) && piece.starts_with(kSpaceSymbol)) {
    piece.remove_prefix(kSpaceSymbol.size());
    // With whitespace squeezing sentencepiece keeps stripping through pieces
    // that were nothing but '▁'.
    stripped = !vocab.remove_extra_whitespaces;
  }
  if (state.at_start && (stripped || !piece.empty())) state.at_start = false;
  append_with_spaces(out, piece);
}

void detokenize_finish(DetokenizeState& state, std::string& out) { drain(state, out, /*final=*/true); }

}  // namespace tern
