// Byte-level BPE vocabularies from Hugging Face tokenizer.json (+ the
// tokenizer_config.json beside it). Only what byte-level BPE models use is
// accepted; anything else is an error naming the field, never a silent guess.
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tern/error.h"
#include "tern/tokenizer.h"
#include "tokenizer/hf_config.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pre_tokenizer.h"

namespace tern {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

// The member `key` of an object by reference (json::value would copy it), or null.
const json& member(const json& object, const char* key) {
  static const json null;
  if (!object.is_object()) return null;
  const auto it = object.find(key);
  return it == object.end() ? null : *it;
}

// Hugging Face's names of the Split behaviours (SplitDelimiterBehavior), in the order of
// PreTokenizeStep::Behavior: read and written through this one table.
constexpr const char* kBehaviorNames[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
static_assert(std::size(kBehaviorNames) == static_cast<size_t>(PreTokenizeStep::Behavior::Contiguous) + 1);

PreTokenizeStep::Behavior parse_behavior(const std::string& file, const std::string& name) {
  for (size_t i = 0; i < std::size(kBehaviorNames); ++i)
    if (name == kBehaviorNames[i]) return static_cast<PreTokenizeStep::Behavior>(i);
  fail("{}: pre_tokenizer behavior '{}' is not one of {}", file, name, fmt::join(kBehaviorNames, ", "));
}

// A literal string as a PCRE2 pattern: every non-alphanumeric ASCII byte escaped.
std::string quote_literal(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out += '\\';
    out += c;
  }
  return out;
}

void parse_pre_tokenizer(const std::string& file, const json& j, std::vector<PreTokenizeStep>& steps) {
  if (j.is_null()) return;
  const std::string type = j.value("type", "");
  using Kind = PreTokenizeStep::Kind;
  if (type == "Sequence") {
    for (const json& p : j.at("pretokenizers")) parse_pre_tokenizer(file, p, steps);
  } else if (type == "Split") {
    const json& pattern = j.at("pattern");
    PreTokenizeStep s;
    if (pattern.contains("Regex")) s.regex = pattern["Regex"].get<std::string>();
    else if (pattern.contains("String")) s.regex = quote_literal(pattern["String"].get<std::string>());
    else fail("{}: Split pre_tokenizer pattern has neither Regex nor String", file);
    s.behavior = parse_behavior(file, j.value("behavior", "Isolated"));
    s.invert = j.value("invert", false);
    steps.push_back(std::move(s));
  } else if (type == "ByteLevel") {
    PreTokenizeStep s;
    s.kind = Kind::ByteLevel;
    s.add_prefix_space = j.value("add_prefix_space", false);
    if (j.value("use_regex", true)) s.regex = std::string(kGpt2Pattern);
    steps.push_back(std::move(s));
  } else if (type == "Digits") {
    steps.push_back({.regex = j.value("individual_digits", false) ? kHfSingleDigitPattern : kHfDigitRunPattern});
  } else if (type == "Punctuation") {
    // Hugging Face's punctuation: ASCII punctuation or any Unicode P* character.
    steps.push_back(
        {.regex = kHfPunctuationPattern, .behavior = parse_behavior(file, j.value("behavior", "Isolated"))});
  } else {
    fail(
        "{}: pre_tokenizer type '{}' is not supported for byte-level BPE (Sequence, Split, ByteLevel, Digits, "
        "Punctuation are)",
        file, type);
  }
}

// No normalizer (LLaMA-3, GPT-2) or NFC (Qwen2), alone or as a one-step Sequence.
bool uses_nfc(const std::string& file, const json& normalizer) {
  if (normalizer.is_null()) return false;
  const std::string type = normalizer.value("type", "");
  if (type == "NFC") return true;
  if (type == "Sequence" && member(normalizer, "normalizers").size() == 1)
    return uses_nfc(file, normalizer["normalizers"][0]);
  fail("{}: normalizer '{}' is not supported (byte-level BPE files have none, or NFC)", file, type);
}

// "a b" strings or ["a", "b"] pairs -> "a b".
std::vector<std::string> parse_merges(const std::string& file, const json& merges) {
  std::vector<std::string> out;
  out.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_string()) out.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2) out.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else fail("{}: merge {} is neither \"a b\" nor [\"a\", \"b\"]", file, out.size());
  }
  return out;
}

// A special token named in tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::string token_text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object()) return j.value("content", "");
  return "";
}

int32_t id_of(const Vocab& v, const std::string& piece) {
  if (piece.empty()) return -1;
  for (std::size_t id = 0; id < v.pieces.size(); ++id)
    if (v.pieces[id] == piece) return static_cast<int32_t>(id);
  return -1;
}

int32_t first_present(const Vocab& v, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (const int32_t id = id_of(v, name); id >= 0) return id;
  return -1;
}

void read_pieces(const std::string& file, const json& model, const json& added, Vocab& v) {
  const json& vocab = model.at("vocab");
  // Ids are normally 0..n-1; holes (ids no piece claims) stay empty and unused.
  const auto place = [&](int64_t id, std::string_view piece) -> std::size_t {
    if (id < 0 || id >= (int64_t{1} << 24)) fail("{}: piece '{}' has the id {}, out of range", file, piece, id);
    const auto i = static_cast<std::size_t>(id);
    if (i >= v.pieces.size()) {
      v.pieces.resize(i + 1);
      v.types.resize(i + 1, TokenType::Unused);
    }
    return i;
  };
  v.pieces.reserve(vocab.size() + added.size());
  for (const auto& [piece, id] : vocab.items()) {
    const std::size_t i = place(id.get<int64_t>(), piece);
    v.pieces[i] = piece;
    v.types[i] = TokenType::Normal;
  }
  for (const json& a : added) {
    const std::size_t i = place(a.at("id").get<int64_t>(), a.value("content", ""));
    v.pieces[i] = a.at("content").get<std::string>();
    v.types[i] = a.value("special", false) ? TokenType::Control : TokenType::UserDefined;
    if (a.value("lstrip", false)) v.lstrip_ids.push_back(static_cast<int32_t>(i));
    if (a.value("rstrip", false)) v.rstrip_ids.push_back(static_cast<int32_t>(i));
  }
  if (v.pieces.empty()) fail("{}: model.vocab is empty", file);
  v.scores.assign(v.pieces.size(), 0.0f);
}

// BOS from a TemplateProcessing post-processor that starts with a special token.
void read_post_processor(const json& post, Vocab& v) {
  if (!post.is_object() || post.value("type", "") != "TemplateProcessing") return;
  const json& single = member(post, "single");
  if (single.empty() || !single[0].contains("SpecialToken")) return;
  const std::string bos = single[0]["SpecialToken"].value("id", "");
  v.bos_id = id_of(v, bos);
  v.add_bos = v.bos_id >= 0;
}

std::string chat_template_of(const json& config) {
  const json& tmpl = member(config, "chat_template");
  if (tmpl.is_string()) return tmpl.get<std::string>();
  if (tmpl.is_array())  // [{"name": "default", "template": ...}, ...]
    for (const json& t : tmpl)
      if (t.value("name", "") == "default") return t.value("template", "");
  return "";
}

void read_tokenizer_config(const std::filesystem::path& path, Vocab& v) {
  const json config = read_json(path);
  if (config.contains("bos_token")) v.bos_id = id_of(v, token_text(config["bos_token"]));
  if (config.contains("eos_token")) v.eos_id = id_of(v, token_text(config["eos_token"]));
  if (config.contains("pad_token")) v.pad_id = id_of(v, token_text(config["pad_token"]));
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
    v.add_bos = config["add_bos_token"].get<bool>();
  v.chat_template = chat_template_of(config);
  if (v.add_bos && v.bos_id < 0) v.add_bos = false;
}

}  // namespace

std::string read_chat_template(const std::filesystem::path& tokenizer_config) {
  return chat_template_of(read_json(tokenizer_config));
}

Vocab byte_level_vocab_from_json(const json& j, const std::filesystem::path& path) {
  const std::string file = path.string();
  const json& model = member(j, "model");
  if (model.value("type", "") != "BPE") fail("{}: model.type is '{}', expected BPE", file, model.value("type", ""));
  if (model.value("byte_fallback", false))
    fail("{}: model.byte_fallback is true: a SentencePiece-style BPE, not byte-level", file);
  const bool nfc = uses_nfc(file, member(j, "normalizer"));
  if (const json& d = member(j, "decoder"); !d.is_null() && d.value("type", "") != "ByteLevel")
    fail("{}: decoder '{}' is not ByteLevel", file, d.value("type", "?"));

  Vocab v;
  v.model = TokenizerModel::ByteLevelBpe;
  v.add_space_prefix = false;
  v.bos_id = v.eos_id = v.unk_id = v.pad_id = -1;
  v.add_bos = false;
  const json& added = member(j, "added_tokens");
  read_pieces(file, model, added.is_array() ? added : json::array(), v);
  v.merges = parse_merges(file, member(model, "merges"));
  v.ignore_merges = model.value("ignore_merges", false);
  v.normalize_nfc = nfc;
  parse_pre_tokenizer(file, member(j, "pre_tokenizer"), v.pre_tokenizer);
  v.pre = pre_name_of(v.pre_tokenizer);
  if (const json& unk = member(model, "unk_token"); unk.is_string()) v.unk_id = id_of(v, unk.get<std::string>());
  read_post_processor(member(j, "post_processor"), v);
  if (const auto config = path.parent_path() / "tokenizer_config.json"; std::filesystem::is_regular_file(config))
    read_tokenizer_config(config, v);
  if (v.eos_id < 0) v.eos_id = first_present(v, {"<|end_of_text|>", "<|endoftext|>", "</s>"});
  v.validate(file);
  return v;
}

Vocab load_byte_level_tokenizer_json(const std::filesystem::path& path) {
  const json j = read_json(path);
  try {
    return byte_level_vocab_from_json(j, path);
  } catch (const json::exception& e) {  // a key of the wrong type
    fail("{}: {}", path.string(), e.what());
  }
}

std::string pre_tokenizer_to_hf_json(const std::vector<PreTokenizeStep>& steps) {
  json sequence = json::array();
  for (const PreTokenizeStep& s : steps) {
    if (s.kind == PreTokenizeStep::Kind::ByteLevel) {
      // ByteLevel's regex is GPT-2's or none: use_regex says which.
      sequence.push_back(
          {{"type", "ByteLevel"}, {"add_prefix_space", s.add_prefix_space}, {"use_regex", !s.regex.empty()}});
    } else {
      sequence.push_back({{"type", "Split"},
                          {"pattern", {{"Regex", s.regex}}},
                          {"behavior", kBehaviorNames[static_cast<int>(s.behavior)]},
                          {"invert", s.invert}});
    }
  }
  return json{{"type", "Sequence"}, {"pretokenizers", sequence}}.dump();
}

std::vector<PreTokenizeStep> pre_tokenizer_from_hf_json(const std::string& text, const std::string& where) {
  std::vector<PreTokenizeStep> steps;
  try {
    parse_pre_tokenizer(where, json::parse(text), steps);
  } catch (const json::exception& e) {
    fail("{}: not a pre_tokenizer object: {}", where, e.what());
  }
  return steps;
}

}  // namespace tern
