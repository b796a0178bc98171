#pragma once
// `tern convert`: any supported source -> tern GGUF (or a standard llama GGUF).
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "convert/draft_writer.h"

namespace tern {

enum class SourceKind { Bitllama2c, HuggingFace, Gguf };
std::string_view source_kind_name(SourceKind kind);

struct ConvertOptions {
  std::filesystem::path source;
  std::filesystem::path output;
  std::filesystem::path tokenizer;  // required for bitllama2.c, optional override otherwise
  DraftWriteOptions write;
  bool dry_run = false;
  std::function<void(size_t, size_t)> progress;  // tensors encoded so far, of all
};

struct ConvertReport {
  SourceKind kind = SourceKind::Gguf;
  ModelConfig config;
  std::vector<PlannedTensor> tensors;
  uint64_t file_bytes = 0;
  bool post_training_quantized = false;  // full-precision weights were ternarized
  std::vector<std::string> notes;        // what the reader detected (source format, exact ternary matrices)
};

// Detects the source kind from the path (a folder is a Hugging Face checkpoint, else
// the file's magic), reads it, and unless dry_run writes the output atomically.
// Throws tern::Error naming the missing key, tensor or file.
ConvertReport convert_model(const ConvertOptions& options);

}  // namespace tern
