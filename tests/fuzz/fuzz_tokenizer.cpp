// Tokenizer on arbitrary bytes, with two real vocabularies from ../shared (tok512, 512
// pieces with whitespace squeezing; LLaMA-2's 32000). The first input byte picks one.
// Checks: decoding any ids gives valid UTF-8, and streaming decode (push per id, then
// flush) equals whole decode, both for the ids of the encoded text and for ids read
// straight from the input.
#include <memory>
#include <vector>

#include "fuzz_input.h"
#include "io/gguf_reader.h"
#include "tern/error.h"
#include "tern/tokenizer.h"
#include "tokenizer/gguf_vocab.h"

namespace {

std::filesystem::path shared(const char* relative) {
  if (const char* dir = std::getenv("TERN_SHARED_DIR")) return std::filesystem::path(dir) / relative;
  return std::filesystem::path(TERN_SOURCE_DIR).parent_path() / "shared" / relative;
}

const std::vector<std::unique_ptr<tern::Tokenizer>>& tokenizers() {
  static const auto all = [] {
    std::vector<std::unique_ptr<tern::Tokenizer>> t;
    t.push_back(std::make_unique<tern::Tokenizer>(tern::load_sentencepiece_vocab(shared("models/tok512.model"))));
    t.push_back(std::make_unique<tern::Tokenizer>(
        tern::read_gguf_vocab(tern::GgufFile::open(shared("tokenizers/ggml-vocab-llama-spm.gguf")))));
    return t;
  }();
  return all;
}

void check_decoders(const tern::Tokenizer& tok, const std::vector<int32_t>& ids) {
  const std::string whole = tok.decode(ids);
  if (!tern::fuzz::is_valid_utf8(whole)) __builtin_trap();
  for (bool strip : {true, false}) {
    tern::StreamDecoder stream(tok, strip);
    std::string pieces;
    for (int32_t id : ids) {
      const std::string piece = stream.push(id);
      if (!tern::fuzz::is_valid_utf8(piece)) __builtin_trap();  // never half a character
      pieces += piece;
    }
    pieces += stream.flush();
    if (strip && pieces != whole) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const tern::Tokenizer& tok = *tokenizers()[data[0] % tokenizers().size()];
  const auto text = tern::fuzz::as_text(data + 1, size - 1);
  try {
    check_decoders(tok, tok.encode(text, data[0] & 2));
  } catch (const tern::Error&) {  // invalid UTF-8 is refused with an error
  }
  std::vector<int32_t> ids;
  for (size_t i = 1; i + 1 < size; i += 2) ids.push_back((data[i] | (data[i + 1] << 8)) % tok.n_vocab());
  check_decoders(tok, ids);
  return 0;
}
