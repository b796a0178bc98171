#include <limits>

#include "tern/error.h"
#include "tern/tokenizer.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/spm_bpe.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace tern {

Tokenizer::Tokenizer(Vocab vocab) {
  vocab.validate("tokenizer vocabulary");
  impl_ = std::make_shared<const Impl>(std::move(vocab));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  if (const auto bad = utf8::first_invalid_offset(text))
    fail("cannot tokenize: text is not valid UTF-8 at byte offset {} (byte 0x{:02X})", *bad,
         static_cast<unsigned char>(text[*bad]));
  const Vocab& v = impl_->vocab;
  if (add_bos && v.bos_id < 0) fail("cannot add BOS: the vocabulary has no bos token");
  const std::string normalized = spm_normalize(v, text);
  if (normalized.size() > std::numeric_limits<uint32_t>::max() / 2)
    fail("cannot tokenize: text of {} bytes is too long", text.size());
  std::vector<int32_t> ids;
  ids.reserve(normalized.size() / 3 + 2);  // typical pieces are several bytes long
  if (add_bos) ids.push_back(v.bos_id);
  spm_bpe_encode(v, impl_->index, normalized, ids);
  return ids;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  // A byte token's byte on its own, even when it is not a whole character.
  // Anything else: one token through a decoder not at the start of text.
  DetokenizeState state;
  state.at_start = false;
  std::string out;
  if (const Vocab& v = impl_->vocab; id >= 0 && id < v.size() && v.types[id] == TokenType::Byte)
    return std::string(1, static_cast<char>(*parse_byte_piece(v.pieces[id])));
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
