// Vocab from a SentencePiece .model file. libsentencepiece loads and checks the
// file and gives pieces, scores and special ids; the few fields its public API
// does not expose (piece types incl. USER_DEFINED, normalizer flags, model
// type) are read from the serialized ModelProto with a minimal wire-format
// reader, since the generated protobuf header is not installed.
#include <sentencepiece_processor.h>

#include <string_view>

#include <spdlog/spdlog.h>

#include "tern/error.h"
#include "tern/tokenizer.h"

namespace tern {
namespace {

// Just enough protobuf wire format to walk messages and read scalars/bytes.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& file) : data_(data), file_(file) {}

  bool done() const { return data_.empty(); }

  // Next field: its number and wire type.
  std::pair<uint32_t, uint32_t> key() {
    const uint64_t k = varint();
    return {static_cast<uint32_t>(k >> 3), static_cast<uint32_t>(k & 7)};
  }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) corrupt();
      const auto byte = static_cast<unsigned char>(data_[0]);
      data_.remove_prefix(1);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    corrupt();
  }

  std::string_view bytes() { return take(varint()); }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: take(8); break;
      case 2: bytes(); break;
      case 5: take(4); break;
      default: corrupt();
    }
  }

 private:
  std::string_view take(uint64_t n) {
    if (n > data_.size()) corrupt();
    const std::string_view out = data_.substr(0, n);
    data_.remove_prefix(n);
    return out;
  }
  [[noreturn]] void corrupt() const { fail("{}: malformed SentencePiece model (protobuf)", file_); }

  std::string_view data_;
  const std::string& file_;
};

struct ProtoFacts {
  std::vector<TokenType> types;
  int model_type = 1;                                             // TrainerSpec.model_type, default UNIGRAM
  bool add_dummy_prefix = true, remove_extra_whitespaces = true;  // NormalizerSpec defaults
  bool escape_whitespaces = true;
  std::string normalizer_name;
  bool has_charsmap = false;
};

TokenType read_piece_type(std::string_view message, const std::string& file) {
  ProtoReader r(message, file);
  int type = 1;  // SentencePiece.type defaults to NORMAL
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (field == 3 && wire == 0) type = static_cast<int>(r.varint());
    else r.skip(wire);
  }
  if (type < 1 || type > 6) fail("{}: piece has unknown type {}", file, type);
  return static_cast<TokenType>(type);
}

ProtoFacts read_proto_facts(std::string_view model, const std::string& file) {
  ProtoFacts facts;
  ProtoReader r(model, file);
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (wire != 2) {
      r.skip(wire);
      continue;
    }
    const std::string_view message = r.bytes();
    ProtoReader m(message, file);
    if (field == 1) {  // repeated SentencePiece pieces
      facts.types.push_back(read_piece_type(message, file));
    } else if (field == 2) {  // TrainerSpec
      while (!m.done()) {
        const auto [f, w] = m.key();
        if (f == 3 && w == 0) facts.model_type = static_cast<int>(m.varint());
        else m.skip(w);
      }
    } else if (field == 3) {  // NormalizerSpec
      while (!m.done()) {
        const auto [f, w] = m.key();
        if (f == 1 && w == 2) facts.normalizer_name = std::string(m.bytes());
        else if (f == 2 && w == 2) facts.has_charsmap = !m.bytes().empty();
        else if (f == 3 && w == 0) facts.add_dummy_prefix = m.varint() != 0;
        else if (f == 4 && w == 0) facts.remove_extra_whitespaces = m.varint() != 0;
        else if (f == 5 && w == 0) facts.escape_whitespaces = m.varint() != 0;
        else m.skip(w);
      }
    }
  }
  return facts;
}

}  // namespace

Vocab load_sentencepiece_vocab(const std::filesystem::path& model_file) {
  const std::string file = model_file.string();
  sentencepiece::SentencePieceProcessor sp;
  if (const auto status = sp.Load(file); !status.ok())
    fail("{}: cannot load SentencePiece model: {}", file, status.ToString());

  const std::string serialized = sp.serialized_model_proto();
  const ProtoFacts facts = read_proto_facts(serialized, file);
  if (facts.model_type != 2)
    fail("{}: SentencePiece model type is {} ({}), only BPE (2) is supported", file, facts.model_type,
         facts.model_type == 1 ? "unigram" : "not BPE");
  const int n = sp.GetPieceSize();
  if (static_cast<int>(facts.types.size()) != n)
    fail("{}: model lists {} pieces but sentencepiece reports {}", file, facts.types.size(), n);
  // tern implements the identity normalizer only (as llama.cpp does); say so
  // rather than silently tokenizing differently from sentencepiece.
  if (facts.has_charsmap || !facts.escape_whitespaces)
    spdlog::warn(
        "{}: normalizer '{}' is not applied; tokenization may differ from sentencepiece on "
        "text it would change",
        file, facts.normalizer_name);

  Vocab vocab;
  vocab.pieces.reserve(n);
  vocab.scores.reserve(n);
  for (int id = 0; id < n; ++id) {
    vocab.pieces.push_back(sp.IdToPiece(id));
    vocab.scores.push_back(sp.GetScore(id));
  }
  vocab.types = facts.types;
  vocab.bos_id = sp.bos_id();
  vocab.eos_id = sp.eos_id();
  vocab.unk_id = sp.unk_id();
  vocab.pad_id = sp.pad_id();
  vocab.add_bos = vocab.bos_id >= 0;
  vocab.add_eos = false;
  vocab.add_space_prefix = facts.add_dummy_prefix;
  vocab.remove_extra_whitespaces = facts.remove_extra_whitespaces;
  vocab.validate(file);
  return vocab;
}

}  // namespace tern
