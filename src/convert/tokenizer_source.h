#pragma once
// Vocabularies from the files checkpoints ship with.
#include <filesystem>

#include "tern/tokenizer.h"

namespace tern {

// Reads a SentencePiece .model, a llama2.c tokenizer.bin (vocab_size tokens), a GGUF
// file's tokenizer, or a Hugging Face tokenizer.json of a SentencePiece-BPE model.
// `vocab_size` is needed only for tokenizer.bin, which does not record it.
Vocab load_vocab_file(const std::filesystem::path& path, int64_t vocab_size);

}  // namespace tern
