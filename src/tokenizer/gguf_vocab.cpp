#include "tokenizer/gguf_vocab.h"

#include "tern/error.h"

namespace tern {
namespace {

int32_t token_id(const GgufFile& f, const std::string& key, int32_t fallback) {
  if (!f.has(key)) return fallback;
  const auto id = f.get_uint(key);
  if (id == UINT32_MAX) return -1;  // llama.cpp writes (u32)-1 for "no such token"
  if (id > static_cast<uint64_t>(INT32_MAX)) fail("{}: key '{}' is {}, not a token id", f.name(), key, id);
  return static_cast<int32_t>(id);
}

}  // namespace

Vocab read_gguf_vocab(const GgufFile& f) {
  const auto model = f.get_string("tokenizer.ggml.model");
  if (model != "llama")
    fail("{}: key 'tokenizer.ggml.model' is '{}', expected 'llama' (SentencePiece BPE)", f.name(), model);
  Vocab v;
  v.pieces = f.get_string_array("tokenizer.ggml.tokens");
  v.scores = f.get_f32_array("tokenizer.ggml.scores");
  for (int32_t t : f.get_i32_array("tokenizer.ggml.token_type")) {
    if (t < 1 || t > 6) fail("{}: key 'tokenizer.ggml.token_type' holds {}, expected 1..6", f.name(), t);
    v.types.push_back(static_cast<TokenType>(t));
  }
  v.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", 1);
  v.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", 2);
  v.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", 0);
  v.pad_id = token_id(f, "tokenizer.ggml.padding_token_id", -1);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", true);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
  v.remove_extra_whitespaces = f.get_bool("tokenizer.ggml.remove_extra_whitespaces", false);
  v.validate(f.name());
  return v;
}

}  // namespace tern
