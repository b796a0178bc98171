#pragma once
// Byte-level BPE from an already parsed tokenizer.json (callers that looked at
// it first need not parse 6 MB of JSON twice).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/tokenizer.h"

namespace tern {

// As load_byte_level_tokenizer_json; `path` names the file in errors and
// locates tokenizer_config.json beside it.
Vocab byte_level_vocab_from_json(const nlohmann::json& tokenizer_json, const std::filesystem::path& path);

// Pre-tokenizer steps as a Hugging Face `pre_tokenizer` object (a Sequence of
// Split and ByteLevel), and back: how a converted GGUF keeps a pre-tokenizer
// that no llama.cpp `tokenizer.ggml.pre` name stands for (docs/FORMAT.md 3.4).
std::string pre_tokenizer_to_hf_json(const std::vector<PreTokenizeStep>& steps);
// `where` names the file and key in errors.
std::vector<PreTokenizeStep> pre_tokenizer_from_hf_json(const std::string& text, const std::string& where);

}  // namespace tern
