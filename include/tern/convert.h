#pragma once
// Conversion (the tern::tools library): bring a checkpoint in as tern GGUF, or export a
// standard llama GGUF for other engines. What `tern convert` runs.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tern/model.h"
#include "tern/tokenizer.h"

namespace tern {

struct ConvertRequest {
  std::filesystem::path source;         // bitllama2.c .bin, Hugging Face folder, or GGUF file
  std::filesystem::path output;         // written atomically; unused with dry_run
  std::filesystem::path tokenizer;      // required for bitllama2.c, an optional override otherwise
  std::string to = "mobilellm";         // target architecture: "mobilellm" (tern) or "llama" (standard)
  std::string ternary_type;             // tern2, tern2r, tq2_0, tq1_0; empty: tern2 for mobilellm, tq2_0 for llama
  std::string embedding_type = "auto";  // token_embd / output: auto (q8_0 where rows are whole 32-blocks, else f32),
                                        // f32, f16, bf16, q4_0, q8_0, q6_k
  std::string dense_type = "f32";       // non-ternary matrices: f32, f16, bf16, q4_0, q8_0, q6_k
  bool dry_run = false;                 // plan only, write nothing
  std::function<void(size_t, size_t)> progress;  // tensors encoded so far, of all (may be empty)
};

struct ConvertedTensor {
  std::string name;
  std::vector<uint64_t> shape;  // GGUF order: the row length first
  std::string type;             // GGUF tensor type name
  uint64_t bytes = 0;
};

struct ConvertSummary {
  std::string source_kind;  // "bitllama2.c checkpoint", "Hugging Face checkpoint", "GGUF"
  ModelConfig config;
  std::vector<ConvertedTensor> tensors;
  uint64_t file_bytes = 0;               // of the written file (0 for a dry run)
  bool post_training_quantized = false;  // full-precision weights were ternarized by absmean
  std::vector<std::string> notes;        // what the reader detected (source format, exact ternary matrices)
};

// Detects the source kind from the path (a folder is a Hugging Face checkpoint, else the
// file's magic), reads it, and unless dry_run writes the output atomically. Throws
// tern::Error naming the missing key, tensor, file or the type name that is not allowed.
ConvertSummary convert_checkpoint(const ConvertRequest& request);

// The vocabulary of a tokenizer file as `tern convert --tokenizer` reads it: a model or
// vocab-only GGUF, a Hugging Face tokenizer.json, a SentencePiece .model or a llama2.c
// tokenizer.bin (what `tern tokenize -m` takes). Throws tern::Error naming the file.
Vocab load_tokenizer_file(const std::filesystem::path& path);

}  // namespace tern
