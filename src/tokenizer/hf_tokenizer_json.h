#pragma once
// Byte-level BPE from an already parsed tokenizer.json (callers that looked at
// it first need not parse 6 MB of JSON twice).
#include <filesystem>

#include <nlohmann/json.hpp>

#include "tern/tokenizer.h"

namespace tern {

// As load_byte_level_tokenizer_json; `path` names the file in errors and
// locates tokenizer_config.json beside it.
Vocab byte_level_vocab_from_json(const nlohmann::json& tokenizer_json, const std::filesystem::path& path);

}  // namespace tern
