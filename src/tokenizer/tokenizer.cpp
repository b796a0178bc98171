#include <limits>

#include "tern/error.h"
#include "tern/tokenizer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/nfc.h"
#include "tokenizer/spm_bpe.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace tern {

Tokenizer::Tokenizer(Vocab vocab) {
  vocab.validate("tokenizer vocabulary");
  impl_ = std::make_shared<const Impl>(std::move(vocab));
}

namespace {

void encode_plain(const Tokenizer::Impl& impl, std::string_view text, std::vector<int32_t>& ids) {
  if (impl.byte_level) {
    std::vector<std::string> pre_tokens;
    if (impl.vocab.normalize_nfc) impl.byte_level->pre.run(nfc(text), pre_tokens);
    else impl.byte_level->pre.run(text, pre_tokens);
    for (const std::string& p : pre_tokens) impl.byte_level->bpe.encode(p, ids);
    return;
  }
  const std::string normalized = spm_normalize(impl.vocab, text);
  if (normalized.size() > std::numeric_limits<uint32_t>::max() / 2)
    fail("cannot tokenize: text of {} bytes is too long", text.size());
  spm_bpe_encode(impl.vocab, impl.index, normalized, ids);
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  if (const auto bad = utf8::first_invalid_offset(text))
    fail("cannot tokenize: text is not valid UTF-8 at byte offset {} (byte 0x{:02X})", *bad,
         static_cast<unsigned char>(text[*bad]));
  const Vocab& v = impl_->vocab;
  if (add_bos && v.bos_id < 0) fail("cannot add BOS: the vocabulary has no bos token");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);  // typical pieces are several bytes long
  if (add_bos) ids.push_back(v.bos_id);
  if (!impl_->byte_level && !parse_special) {  // SentencePiece keeps UserDefined pieces whole itself
    encode_plain(*impl_, text, ids);
    return ids;
  }
  for (const TextFragment& f : impl_->added.partition(text, parse_special)) {
    if (f.token >= 0) ids.push_back(f.token);
    else encode_plain(*impl_, f.text, ids);
  }
  return ids;
}

int32_t Tokenizer::find_piece(std::string_view piece) const {
  const auto& pieces = impl_->vocab.pieces;
  for (std::size_t id = 0; id < pieces.size(); ++id)
    if (pieces[id] == piece) return static_cast<int32_t>(id);
  return -1;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  // A byte token's byte on its own, even when it is not a whole character.
  // Anything else: one token through a decoder not at the start of text.
  DetokenizeState state;
  state.at_start = false;
  std::string out;
  if (const Vocab& v = impl_->vocab; id >= 0 && id < v.size() && v.types[id] == TokenType::Byte)
    return std::string(1, static_cast<char>(*parse_byte_piece(v.pieces[id])));
  if (const Vocab& v = impl_->vocab;
      id >= 0 && id < v.size() && v.model == TokenizerModel::ByteLevelBpe && v.types[id] == TokenType::Normal)
    if (auto bytes = byte_level::decode(v.pieces[id])) return std::move(*bytes);
  detokenize_step(*this, state, id, out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  DetokenizeState state;
  std::string out;
  for (const int32_t id : ids) detokenize_step(*this, state, id, out);
  detokenize_finish(state, out);
  return out;
}

const Vocab& Tokenizer::vocab() const { return impl_->vocab; }
int32_t Tokenizer::n_vocab() const { return impl_->vocab.size(); }
int32_t Tokenizer::bos() const { return impl_->vocab.bos_id; }
int32_t Tokenizer::eos() const { return impl_->vocab.eos_id; }

}  // namespace tern
