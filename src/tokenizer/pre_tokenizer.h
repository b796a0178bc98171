#pragma once
// Byte-level BPE pre-tokenization: a text fragment -> the pre-tokens BPE merges
// within, each already mapped to GPT-2's byte characters.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/tokenizer.h"
#include "tokenizer/regex_split.h"

namespace tern {

// GPT-2's own pattern, the one Hugging Face's ByteLevel(use_regex) applies.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// tokenizer.ggml.pre of a converted vocabulary whose pre-tokenizer no llama.cpp name
// stands for; the steps themselves are in tern.tokenizer.pre_tokenizer.
inline constexpr std::string_view kCustomPreTokenizerName = "tern-custom";

// Hugging Face's Punctuation pre-tokenizer (ASCII punctuation or any Unicode P*
// character) and Digits (runs, or single digits with individual_digits) as regexes.
inline constexpr const char* kHfPunctuationPattern = R"([\p{P}!-/:-@\[-`{-~])";
inline constexpr const char* kHfDigitRunPattern = R"(\p{N}+)";
inline constexpr const char* kHfSingleDigitPattern = R"(\p{N})";

class PreTokenizer {
 public:
  // Compiles the steps' regexes once; throws tern::Error if one does not compile.
  explicit PreTokenizer(const std::vector<PreTokenizeStep>& steps);

  // Appends the pre-tokens of `text` (valid UTF-8), byte-level mapped. Without a
  // ByteLevel step (llama.cpp's presets) the mapping is applied at the end.
  void run(std::string_view text, std::vector<std::string>& out) const;

 private:
  struct Compiled {
    PreTokenizeStep step;
    std::optional<SplitRegex> regex;
  };
  std::vector<Compiled> steps_;
  bool has_byte_level_step_ = false;
};

// The llama.cpp name (GGUF tokenizer.ggml.pre) of a pre-tokenizer read from a
// Hugging Face file, when it is one of the known forms (LLaMA-3, Qwen2, GPT-2, Falcon); else "".
std::string pre_name_of(const std::vector<PreTokenizeStep>& steps);

// True for the llama.cpp pre-tokenizer names whose vocabularies skip merging a
// pre-token that is itself a piece, and add BOS by default (the LLaMA-3 family).
bool pre_is_llama3_family(std::string_view pre_name);

}  // namespace tern
