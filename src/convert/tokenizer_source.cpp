#include "convert/tokenizer_source.h"

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/gguf_reader.h"
#include "io/json_number.h"
#include "io/mapped_file.h"
#include "tern/error.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/hf_config.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tern {
namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

bool is_byte_piece(const std::string& p) {
  return p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>' && std::isxdigit(static_cast<unsigned char>(p[3])) &&
         std::isxdigit(static_cast<unsigned char>(p[4]));
}

// Token types llama2.c's files do not record, recovered from the conventions every
// SentencePiece-trained llama vocabulary follows.
void infer_types(Vocab& v) {
  v.types.clear();
  for (size_t id = 0; id < v.pieces.size(); ++id) {
    const std::string& p = v.pieces[id];
    if (static_cast<int32_t>(id) == v.unk_id) v.types.push_back(TokenType::Unknown);
    else if (static_cast<int32_t>(id) == v.bos_id || static_cast<int32_t>(id) == v.eos_id)
      v.types.push_back(TokenType::Control);
    else if (is_byte_piece(p)) v.types.push_back(TokenType::Byte);
    else v.types.push_back(TokenType::Normal);
  }
}

std::string spaces_to_marks(std::string piece) {
  std::string out;
  for (char ch : piece) out += ch == ' ' ? kSpace : std::string(1, ch);
  return out;
}

// llama2.c tokenizer.bin: i32 max_token_length, then per token f32 score, i32 length,
// bytes (spaces written as ' ').
Vocab load_llama2c_bin(const std::filesystem::path& path, int64_t vocab_size) {
  if (vocab_size <= 0)
    fail("{}: a llama2.c tokenizer.bin does not record its size; it needs the model's vocab size", path.string());
  const MappedFile file(path);
  const auto bytes = file.bytes();
  size_t pos = 4;
  Vocab v;
  for (int64_t id = 0; id < vocab_size; ++id) {
    float score;
    int32_t length;
    if (pos + 8 > bytes.size()) fail("{}: truncated at token {} of {}", path.string(), id, vocab_size);
    std::memcpy(&score, bytes.data() + pos, 4);
    std::memcpy(&length, bytes.data() + pos + 4, 4);
    pos += 8;
    if (length < 0 || static_cast<size_t>(length) > bytes.size() - pos)
      fail("{}: token {} has a bad length {}", path.string(), id, length);
    v.pieces.push_back(spaces_to_marks(std::string(reinterpret_cast<const char*>(bytes.data() + pos), length)));
    v.scores.push_back(score);
    pos += static_cast<size_t>(length);
  }
  // llama2.c decodes "<s>" / "</s>" as text around ids 1 and 2; they are control tokens.
  infer_types(v);
  return v;
}

// Hugging Face tokenizer.json of a SentencePiece BPE model (LLaMA-2 style): the vocab
// map gives pieces and ids; merge priority follows the id order SentencePiece assigns
// by score, so score = -id reproduces it.
Vocab vocab_from_tokenizer_json(const nlohmann::json& j, const std::filesystem::path& path) {
  if (!j.is_object()) fail("{}: expected a JSON object, found {}", path.string(), j.type_name());
  static const nlohmann::json no_model = nlohmann::json::object();
  const auto& model = j.contains("model") ? j.at("model") : no_model;  // by reference: it holds the whole vocabulary
  if (model.value("type", "") == "BPE" && !model.value("byte_fallback", false))
    return byte_level_vocab_from_json(j, path);
  if (model.value("type", "") != "BPE")
    fail("{}: model.type is '{}'; only BPE tokenizers (SentencePiece-style or byte-level) are supported", path.string(),
         model.value("type", ""));
  const auto& vocab = model.at("vocab");
  Vocab v;
  v.pieces.resize(vocab.size());
  const auto last_id = static_cast<int64_t>(vocab.size()) - 1;
  for (const auto& [piece, id] : vocab.items()) {
    const auto index = require_integer(id, 0, last_id, fmt::format("{}: id of token '{}'", path.string(), piece));
    v.pieces[static_cast<size_t>(index)] = piece;
  }
  for (size_t id = 0; id < v.pieces.size(); ++id) v.scores.push_back(-static_cast<float>(id));
  for (const auto& added : j.value("added_tokens", nlohmann::json::array())) {
    const std::string content = added.value("content", "");
    const auto id =
        static_cast<int32_t>(require_integer(added.value("id", nlohmann::json(-1)), -1, last_id,
                                             fmt::format("{}: id of added token '{}'", path.string(), content)));
    if (content == "<s>") v.bos_id = id;
    if (content == "</s>") v.eos_id = id;
    if (content == "<unk>") v.unk_id = id;
  }
  infer_types(v);
  return v;
}

Vocab load_tokenizer_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  try {
    return vocab_from_tokenizer_json(nlohmann::json::parse(in), path);
  } catch (const nlohmann::json::exception& e) {  // not JSON, or a key of the wrong type
    fail("{}: {}", path.string(), e.what());
  }
}

}  // namespace

Vocab load_vocab_file(const std::filesystem::path& path, int64_t vocab_size) {
  if (std::filesystem::is_directory(path))
    fail("{}: is a directory, expected a tokenizer or model file", path.string());
  if (!std::filesystem::is_regular_file(path)) fail("{}: tokenizer file not found", path.string());
  const auto ext = path.extension().string();
  Vocab v;
  if (ext == ".model") v = load_sentencepiece_vocab(path);
  else if (ext == ".bin") v = load_llama2c_bin(path, vocab_size);
  else if (ext == ".json") v = load_tokenizer_json(path);
  else if (ext == ".gguf") v = read_gguf_vocab(GgufFile::open(path));
  else fail("{}: unknown tokenizer format (expected .model, tokenizer.bin, tokenizer.json or .gguf)", path.string());
  // A Hugging Face folder's chat template travels with the tokenizer.
  if (const auto config = path.parent_path() / "tokenizer_config.json";
      v.chat_template.empty() && ext != ".gguf" && std::filesystem::is_regular_file(config))
    v.chat_template = read_chat_template(config);
  v.validate(path.string());
  if (vocab_size > 0 && v.size() != vocab_size)
    fail("{}: tokenizer has {} tokens but the model has {}", path.string(), v.size(), vocab_size);
  return v;
}

}  // namespace tern
