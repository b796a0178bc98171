#pragma once
// The tokenizer stored in a GGUF file's metadata (docs/FORMAT.md 3.3).
#include "io/gguf_reader.h"
#include "tern/tokenizer.h"

namespace tern {

// Reads tokenizer.ggml.* keys; throws naming the file and key if anything is missing,
// of the wrong type, or inconsistent (e.g. scores and tokens of different lengths).
Vocab read_gguf_vocab(const GgufFile& file);

}  // namespace tern
