// SentencePiece .model files (libsentencepiece plus tern's own read of the proto
// fields it needs), then a tokenizer built from the vocabulary encodes and decodes.
#include "fuzz_input.h"
#include "tern/error.h"
#include "tern/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = tern::fuzz::write_file("tokenizer.model", tern::fuzz::as_text(data, size));
  try {
    const tern::Tokenizer tokenizer(tern::load_sentencepiece_vocab(path));
    (void)tokenizer.decode(tokenizer.encode("Hello world \xe2\x96\x81 \xc3\xa9", true));
  } catch (const tern::Error&) {}
  return 0;
}
