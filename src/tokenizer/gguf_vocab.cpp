#include "tokenizer/gguf_vocab.h"

#include "tern/error.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pre_tokenizer.h"

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

namespace {

std::vector<TokenType> read_token_types(const GgufFile& f) {
  std::vector<TokenType> types;
  for (int32_t t : f.get_i32_array("tokenizer.ggml.token_type")) {
    if (t < 1 || t > 6) fail("{}: key 'tokenizer.ggml.token_type' holds {}, expected 1..6", f.name(), t);
    types.push_back(static_cast<TokenType>(t));
  }
  return types;
}

// A pre-tokenizer kept whole by tern convert (docs/FORMAT.md 3.4): a Hugging Face
// pre_tokenizer object and the two flags that go with it.
void read_custom_pre_tokenizer(const GgufFile& f, Vocab& v) {
  const std::string key = "tern.tokenizer.pre_tokenizer";
  if (!f.has(key))
    fail("{}: key 'tokenizer.ggml.pre' is '{}' but key '{}' is missing", f.name(), kCustomPreTokenizerName, key);
  v.pre_tokenizer = pre_tokenizer_from_hf_json(f.get_string(key), f.name() + ": key '" + key + "'");
  v.ignore_merges = f.get_bool("tern.tokenizer.ignore_merges", false);
  v.normalize_nfc = f.get_bool("tern.tokenizer.normalize_nfc", false);
}

// tokenizer.ggml.model "gpt2": byte-level BPE with merges and a named pre-tokenizer.
Vocab read_byte_level_vocab(const GgufFile& f) {
  Vocab v;
  v.model = TokenizerModel::ByteLevelBpe;
  v.pieces = f.get_string_array("tokenizer.ggml.tokens");
  v.scores.assign(v.pieces.size(), 0.0f);  // merges, not scores, order byte-level BPE
  v.types = f.has("tokenizer.ggml.token_type") ? read_token_types(f)
                                               : std::vector<TokenType>(v.pieces.size(), TokenType::Normal);
  v.merges = f.get_string_array("tokenizer.ggml.merges");
  v.pre = f.get_string("tokenizer.ggml.pre", "default");
  if (v.pre == kCustomPreTokenizerName) {
    read_custom_pre_tokenizer(f, v);
  } else {
    auto steps = pre_tokenizer_for(v.pre);
    if (!steps)
      fail("{}: key 'tokenizer.ggml.pre' is '{}', which tern does not know (known: {}, {})", f.name(), v.pre,
           known_pre_tokenizer_names(), kCustomPreTokenizerName);
    v.pre_tokenizer = std::move(*steps);
    v.ignore_merges = pre_is_llama3_family(v.pre);
    v.normalize_nfc = v.pre == "qwen2";  // Qwen2's tokenizer.json normalizes to NFC (llama.cpp skips it)
  }
  v.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", -1);
  v.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", -1);
  v.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", -1);
  v.pad_id = token_id(f, "tokenizer.ggml.padding_token_id", -1);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", pre_is_llama3_family(v.pre)) && v.bos_id >= 0;
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = false;
  v.chat_template = f.get_string("tokenizer.chat_template", "");
  v.validate(f.name());
  return v;
}

}  // namespace

Vocab read_gguf_vocab(const GgufFile& f) {
  const auto model = f.get_string("tokenizer.ggml.model");
  if (model == "gpt2") return read_byte_level_vocab(f);
  if (model != "llama")
    fail("{}: key 'tokenizer.ggml.model' is '{}', expected 'llama' (SentencePiece BPE) or 'gpt2' (byte-level BPE)",
         f.name(), model);
  Vocab v;
  v.pieces = f.get_string_array("tokenizer.ggml.tokens");
  v.scores = f.get_f32_array("tokenizer.ggml.scores");
  v.types = read_token_types(f);
  v.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", 1);
  v.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", 2);
  v.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", 0);
  v.pad_id = token_id(f, "tokenizer.ggml.padding_token_id", -1);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", true);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
  v.remove_extra_whitespaces = f.get_bool("tokenizer.ggml.remove_extra_whitespaces", false);
  v.chat_template = f.get_string("tokenizer.chat_template", "");
  v.validate(f.name());
  return v;
}

}  // namespace tern
