// Pre-tokenizer presets by GGUF tokenizer.ggml.pre name use the regex lists
// llama.cpp documents for each name (applied one after another, every match
// and every stretch between matches becoming a piece), then the byte mapping.
#include "tokenizer/pre_tokenizer.h"

#include <utility>

#include "tokenizer/byte_level.h"

namespace tern {
namespace {

// llama.cpp's form of the GPT-2 pattern: without the final \s+ (whitespace it
// leaves unmatched becomes a piece of its own, which is the same thing).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// LLaMA-3's pattern with its (?i:...) contractions spelled out case by case.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: LLaMA-3's pattern with single digits.
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kFalconPunctuation = R"([\p{P}\$\+<=>\^~\|`]+)";
constexpr const char* kDefaultPunctuation = R"([\p{P}\$\+<=>\^~\|]+)";
constexpr const char* kThreeDigits = "[0-9][0-9][0-9]";

struct Preset {
  std::vector<std::string_view> names;
  std::vector<const char*> regexes;
};

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {{"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "falcon_e", "dbrx", "smaug-bpe"}, {kLlama3}},
      {{"gpt-2", "mpt", "olmo", "jais"}, {kGpt2}},
      {{"falcon"}, {kFalconPunctuation, kGpt2, kThreeDigits}},
      {{"qwen2", "stablelm2"}, {kQwen2}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell"}, {R"(\p{N})", kGpt2}},
      {{"default"}, {kDefaultPunctuation, kGpt2, R"(\p{N}+)", kThreeDigits}},
  };
  return all;
}

}  // namespace

std::optional<std::vector<PreTokenizeStep>> pre_tokenizer_for(std::string_view pre_name) {
  for (const Preset& p : presets())
    for (const std::string_view name : p.names)
      if (name == pre_name) {
        std::vector<PreTokenizeStep> steps;
        for (const char* regex : p.regexes) steps.push_back({.regex = regex});
        return steps;
      }
  return std::nullopt;
}

std::string known_pre_tokenizer_names() {
  std::string out;
  for (const Preset& p : presets())
    for (const std::string_view name : p.names) (out += out.empty() ? "" : ", ") += name;
  return out;
}

std::string pre_name_of(const std::vector<PreTokenizeStep>& steps) {
  // The pre-tokenizers of Hugging Face files whose llama.cpp name is known.
  constexpr const char* kHfLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  constexpr const char* kHfQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  using Kind = PreTokenizeStep::Kind;
  const PreTokenizeStep byte_level_only{.kind = Kind::ByteLevel, .regex = ""};
  const PreTokenizeStep byte_level_gpt2{.kind = Kind::ByteLevel, .regex = std::string(kGpt2Pattern)};
  const std::pair<std::vector<PreTokenizeStep>, const char*> known[] = {
      {{{.regex = kHfLlama3}, byte_level_only}, "llama-bpe"},
      {{{.regex = kHfQwen2}, byte_level_only}, "qwen2"},
      {{byte_level_gpt2}, "gpt-2"},
      // Falcon: punctuation runs, GPT-2's split, digit runs, groups of three digits.
      {{{.regex = kHfPunctuationPattern, .behavior = PreTokenizeStep::Behavior::Contiguous},
        byte_level_gpt2,
        {.regex = kHfDigitRunPattern},
        {.regex = kThreeDigits}},
       "falcon"},
  };
  for (const auto& [form, name] : known)
    if (form == steps) return name;
  return "";
}

bool pre_is_llama3_family(std::string_view pre_name) {
  const auto& names = presets().front().names;
  for (const std::string_view name : names)
    if (name == pre_name) return true;
  return false;
}

PreTokenizer::PreTokenizer(const std::vector<PreTokenizeStep>& steps) {
  for (const PreTokenizeStep& step : steps) {
    Compiled c{step, std::nullopt};
    if (!step.regex.empty()) c.regex.emplace(step.regex);
    has_byte_level_step_ |= step.kind == PreTokenizeStep::Kind::ByteLevel;
    steps_.push_back(std::move(c));
  }
}

void PreTokenizer::run(std::string_view text, std::vector<std::string>& out) const {
  std::vector<std::string> pieces{std::string(text)}, next;
  std::vector<std::string_view> views;
  for (const Compiled& c : steps_) {
    next.clear();
    const bool byte_level = c.step.kind == PreTokenizeStep::Kind::ByteLevel;
    for (std::string& piece : pieces) {
      if (byte_level && c.step.add_prefix_space && !piece.starts_with(' ')) piece.insert(0, 1, ' ');
      views.clear();
      if (c.regex)
        c.regex->split(piece, byte_level ? PreTokenizeStep::Behavior::Isolated : c.step.behavior,
                       !byte_level && c.step.invert, views);
      else views.push_back(piece);
      for (const std::string_view v : views) next.push_back(byte_level ? byte_level::encode(v) : std::string(v));
    }
    std::swap(pieces, next);
  }
  for (std::string& piece : pieces) {
    if (piece.empty()) continue;
    out.push_back(has_byte_level_step_ ? std::move(piece) : byte_level::encode(piece));
  }
}

}  // namespace tern
