#pragma once
// Hugging Face tokenizer_config.json: the parts tern reads.
#include <filesystem>
#include <string>

namespace tern {

// The "chat_template" of a tokenizer_config.json: a string, or the "default"
// entry of a list of named templates; "" when there is none.
std::string read_chat_template(const std::filesystem::path& tokenizer_config);

}  // namespace tern
