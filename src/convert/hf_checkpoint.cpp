#include "convert/hf_checkpoint.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "convert/hf_ternary_formats.h"
#include "convert/safetensors_reader.h"
#include "convert/tokenizer_source.h"
#include "io/json_number.h"
#include "model/limits.h"
#include "tern/error.h"

namespace tern {
namespace {

using nlohmann::json;

// The file's top-level JSON object.
json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail("{}: not found", path.string());
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
  if (!j.is_object()) fail("{}: expected a JSON object, found {}", path.string(), j.type_name());
  return j;
}

enum class Family { Llama, MobileLlm, BitNet };

Family family_of(const json& config, const std::string& file) {
  const auto archs = config.value("architectures", std::vector<std::string>{});
  const std::string arch = archs.empty() ? config.value("model_type", "") : archs.front();
  if (arch == "LlamaForCausalLM" || arch == "llama") return Family::Llama;
  if (arch == "MobileLLMForCausalLM" || arch == "mobilellm") return Family::MobileLlm;
  if (arch == "BitnetForCausalLM" || arch == "BitNetForCausalLM" || arch == "bitnet") return Family::BitNet;
  fail(
      "{}: architecture '{}' is not supported (LlamaForCausalLM, MobileLLMForCausalLM, BitnetForCausalLM, "
      "BitNetForCausalLM)",
      file, arch);
}

// Every size in config.json is bounded like GGUF's counts (model/config.cpp).
constexpr int64_t kMaxConfigCount = int64_t{1} << 24;

int64_t required_int(const json& config, const char* key, const std::string& file) {
  if (!config.contains(key)) fail("{}: missing integer key '{}'", file, key);
  return require_integer(config[key], 1, kMaxConfigCount, fmt::format("{}: key '{}'", file, key));
}

float optional_float(const json& config, const char* key, float fallback, const std::string& file) {
  return config.contains(key) ? require_float(config[key], fmt::format("{}: key '{}'", file, key)) : fallback;
}

ModelConfig read_config(const json& j, const std::string& file) {
  ModelConfig c;
  c.architecture = "mobilellm";
  c.name = j.value("_name_or_path", std::string());
  c.dim = required_int(j, "hidden_size", file);
  c.ffn = required_int(j, "intermediate_size", file);
  c.n_blocks = required_int(j, "num_hidden_layers", file);
  c.n_heads = required_int(j, "num_attention_heads", file);
  c.n_kv_heads = j.contains("num_key_value_heads") ? required_int(j, "num_key_value_heads", file) : c.n_heads;
  c.head_dim = j.contains("head_dim") ? required_int(j, "head_dim", file) : c.dim / c.n_heads;
  c.context_length = j.contains("max_position_embeddings") ? required_int(j, "max_position_embeddings", file) : 2048;
  c.n_vocab = required_int(j, "vocab_size", file);
  if (!j.contains("head_dim") && c.dim % c.n_heads != 0)
    fail("{}: hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given", file, c.dim,
         c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0)
    fail("{}: num_key_value_heads {} does not divide num_attention_heads {}", file, c.n_kv_heads, c.n_heads);
  // The RoPE row permutation (permute_for_rope) pairs row j with row j + head_dim / 2.
  if (c.head_dim % 2 != 0) fail("{}: head_dim {} must be even for RoPE", file, c.head_dim);
  c.rms_eps = optional_float(j, "rms_norm_eps", 1e-6f, file);
  c.rope_base = optional_float(j, "rope_theta", 10000.0f, file);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) fail("{}: rope_scaling is not supported", file);
  const std::string act = j.value("hidden_act", "silu");
  if (act == "relu2") c.activation = FfnActivation::Relu2;
  else if (act != "silu") fail("{}: hidden_act '{}' is not supported (silu, relu2)", file, act);
  if (j.value("layer_sharing", false) && j.contains("layer_sharing_repeat"))
    c.block_repeat = require_integer(j["layer_sharing_repeat"], 1, kMaxBlockRepeat,
                                     fmt::format("{}: key 'layer_sharing_repeat'", file));
  else if (j.value("layer_sharing", false)) c.block_repeat = 2;
  check_layer_limits(c, file, "layer_sharing_repeat");
  return c;
}

// Tensor name -> the shard that holds it.
class Shards {
 public:
  explicit Shards(const std::filesystem::path& dir) {
    const auto index = dir / "model.safetensors.index.json";
    if (std::filesystem::exists(index)) {
      std::set<std::string> files;
      // Named: a range-for over a member of a temporary would dangle (before C++23).
      const json index_json = read_json(index);
      try {
        for (const auto& [name, file] : index_json.at("weight_map").items()) files.insert(file.get<std::string>());
      } catch (const json::exception& e) {
        fail("{}: weight_map: {}", index.string(), e.what());
      }
      for (const auto& file : files) files_.push_back(SafetensorsFile::open(dir / file));
    } else if (std::filesystem::exists(dir / "model.safetensors")) {
      files_.push_back(SafetensorsFile::open(dir / "model.safetensors"));
    } else {
      fail("{}: no model.safetensors or model.safetensors.index.json", dir.string());
    }
    // Indexed once every file is in place, so the pointers stay valid.
    for (size_t i = 0; i < files_.size(); ++i)
      for (const auto& [name, t] : files_[i].tensors()) where_[name] = {i, &t};
  }
  const SafetensorsTensor* find(const std::string& name) const {
    auto it = where_.find(name);
    return it == where_.end() ? nullptr : it->second.second;
  }
  const std::string& file_of(const std::string& name) const { return files_[where_.at(name).first].name(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, w] : where_) out.push_back(n);
    return out;
  }

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::pair<size_t, const SafetensorsTensor*>> where_;
};

// Hugging Face rotates (x[i], x[i + d/2]) pairs; tern (like llama.cpp) rotates
// adjacent pairs. Reordering each head's q/k rows makes the two agree.
std::vector<float> permute_for_rope(const std::vector<float>& w, int64_t n_heads, int64_t head_dim, int64_t n_in) {
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t j = 0; j < head_dim / 2; ++j)
      for (int64_t half = 0; half < 2; ++half) {
        const int64_t from = h * head_dim + half * (head_dim / 2) + j;
        const int64_t to = h * head_dim + 2 * j + half;
        std::copy_n(w.begin() + from * n_in, n_in, out.begin() + to * n_in);
      }
  return out;
}

struct NameMap {
  const char* hf_suffix;
  const char* tern_suffix;
};
constexpr NameMap kBlockNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.inner_attn_ln.weight", "attn_sub_norm.weight"},
    {"self_attn.attn_sub_norm.weight", "attn_sub_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.ffn_layernorm.weight", "ffn_sub_norm.weight"},
    {"mlp.ffn_sub_norm.weight", "ffn_sub_norm.weight"},
};

// The torch shape ([out, in]) config.json implies for a tensor with tern name suffix
// `tern` ("attn_q.weight", "token_embd.weight", ...).
std::vector<uint64_t> expected_shape(std::string_view tern, const ModelConfig& c) {
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  if (tern == "token_embd.weight" || tern == "output.weight") return {u(c.n_vocab), u(c.dim)};
  if (tern == "attn_q.weight") return {u(c.q_dim()), u(c.dim)};
  if (tern == "attn_k.weight" || tern == "attn_v.weight") return {u(c.kv_dim()), u(c.dim)};
  if (tern == "attn_output.weight") return {u(c.dim), u(c.q_dim())};
  if (tern == "ffn_gate.weight" || tern == "ffn_up.weight") return {u(c.ffn), u(c.dim)};
  if (tern == "ffn_down.weight") return {u(c.dim), u(c.ffn)};
  if (tern == "attn_sub_norm.weight") return {u(c.q_dim())};
  if (tern == "ffn_sub_norm.weight") return {u(c.ffn)};
  return {u(c.dim)};  // output_norm, attn_norm, ffn_norm
}

std::string shape_string(const std::vector<uint64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Checked before any value is read: the RoPE permutation and the ternarizer index rows
// by the config's sizes.
void check_shape(const Shards& shards, const std::string& hf, const std::string& tern, const ModelConfig& c) {
  const auto& shape = shards.find(hf)->shape;
  std::string_view suffix = tern;
  if (suffix.rfind("blk.", 0) == 0) suffix.remove_prefix(tern.find('.', 4) + 1);
  const auto expected = expected_shape(suffix, c);
  if (shape != expected)
    fail("{}: tensor '{}' has shape {}, expected {} from config.json", shards.file_of(hf), hf, shape_string(shape),
         shape_string(expected));
}

DraftTensor float_tensor(const Shards& shards, const std::string& hf, const std::string& tern, const ModelConfig& c) {
  check_shape(shards, hf, tern, c);
  const auto* t = shards.find(hf);
  DraftTensor d;
  d.name = tern;
  d.ne.assign(t->shape.rbegin(), t->shape.rend());
  d.values = t->to_floats(shards.file_of(hf));
  return d;
}

// n_out x n_in of a block linear, or nullopt for a norm.
struct LinearShape {
  int64_t n_out;
  int64_t n_in;
};
std::optional<LinearShape> linear_shape(const std::string& tern_suffix, const ModelConfig& c) {
  if (tern_suffix == "attn_q.weight") return LinearShape{c.q_dim(), c.dim};
  if (tern_suffix == "attn_k.weight" || tern_suffix == "attn_v.weight") return LinearShape{c.kv_dim(), c.dim};
  if (tern_suffix == "attn_output.weight") return LinearShape{c.dim, c.q_dim()};
  if (tern_suffix == "ffn_gate.weight" || tern_suffix == "ffn_up.weight") return LinearShape{c.ffn, c.dim};
  if (tern_suffix == "ffn_down.weight") return LinearShape{c.dim, c.ffn};
  return std::nullopt;
}

struct LinearCounts {
  int total = 0;
  int exact_per_row = 0;     // float weights that were ternary x one scale per row
  int exact_per_tensor = 0;  // ... x one scale per tensor
  int absmean = 0;           // ternarized by absmean here
  int quantized = 0;         // read in the folder's quantized format (ParetoQ, packed BitNet)
};

bool one_scale(const TernaryWeights& w) {
  return std::all_of(w.scales.begin(), w.scales.end(), [&](float s) { return s == w.scales.front(); });
}

// A block linear as ternary weights: read in the folder's quantized format, or from
// floats (kept exactly when they already are ternary times a scale and the family does
// not define its own quantizer, else ternarized by absmean as BitNet b1.58 does).
DraftTensor ternary_linear(const Shards& shards, const HfTensorLookup& lookup, const HfLinearFormat& format,
                           const std::string& hf, const std::string& name, LinearShape shape, const ModelConfig& c,
                           bool trained_ternary, std::set<std::string>& used, LinearCounts& counts) {
  ++counts.total;
  DraftTensor t;
  t.name = name;
  t.ne = {static_cast<uint64_t>(shape.n_in), static_cast<uint64_t>(shape.n_out)};
  if (auto q = read_quantized_linear(format, lookup, hf, shape.n_out, shape.n_in, used)) {
    t.ternary = std::move(q);
    ++counts.quantized;
    if (name.ends_with("attn_q.weight")) permute_ternary_rows_for_rope(*t.ternary, c.n_heads, c.head_dim);
    if (name.ends_with("attn_k.weight")) permute_ternary_rows_for_rope(*t.ternary, c.n_kv_heads, c.head_dim);
  } else {
    DraftTensor f = float_tensor(shards, hf, name, c);  // shape checked against config.json before reading
    if (name.ends_with("attn_q.weight")) f.values = permute_for_rope(f.values, c.n_heads, c.head_dim, shape.n_in);
    if (name.ends_with("attn_k.weight")) f.values = permute_for_rope(f.values, c.n_kv_heads, c.head_dim, shape.n_in);
    std::optional<TernaryWeights> exact;
    if (!trained_ternary) exact = exact_ternary(f.values, shape.n_in, shape.n_out);
    if (exact) ++(one_scale(*exact) ? counts.exact_per_tensor : counts.exact_per_row);
    else ++counts.absmean;
    t.ternary = exact ? std::move(exact) : ternarize_absmean(f.values, shape.n_in, shape.n_out);
  }
  return t;
}

std::string source_format(const HfLinearFormat& format, Family family, const LinearCounts& counts) {
  if (counts.quantized > 0) return format.description;
  if (family == Family::BitNet || format.kind != HfLinearFormat::Float)
    return "BitNet b1.58 latent weights (absmean per tensor)";
  if (counts.absmean == 0 && counts.exact_per_row > 0)
    return "exact ternary float weights, one scale per row (TriLM style)";
  if (counts.absmean == 0) return "exact ternary float weights, one scale per tensor (TriLM style)";
  return "";
}

}  // namespace

HfReadResult read_hf_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& tokenizer) {
  const auto config_path = dir / "config.json";
  const json j = read_json(config_path);
  HfReadResult result;
  ModelDraft& d = result.draft;
  d.source = dir.string();
  Family family{};
  bool tied = false;
  HfLinearFormat format;
  try {  // a key of the wrong JSON type (e.g. "architectures": 3)
    family = family_of(j, config_path.string());
    d.config = read_config(j, config_path.string());
    tied = j.value("tie_word_embeddings", false) || j.value("share_embedding", false);
    format = read_linear_format(j, config_path.string());
  } catch (const json::exception& e) {
    fail("{}: {}", config_path.string(), e.what());
  }
  const ModelConfig& c = d.config;

  const Shards shards(dir);
  std::set<std::string> used;
  auto require = [&](const std::string& name) {
    if (shards.find(name) == nullptr) fail("{}: missing tensor '{}'", dir.string(), name);
    used.insert(name);
    return name;
  };
  d.tensors.push_back(float_tensor(shards, require("model.embed_tokens.weight"), "token_embd.weight", c));
  d.tensors.push_back(float_tensor(shards, require("model.norm.weight"), "output_norm.weight", c));
  if (!tied) d.tensors.push_back(float_tensor(shards, require("lm_head.weight"), "output.weight", c));
  else if (shards.find("lm_head.weight")) used.insert("lm_head.weight");

  // Trained ternary: the BitNet families, or any folder whose quantization_config says
  // its linears were BitNet b1.58 during training (tools/train writes that), or ParetoQ.
  const bool trained_ternary = family == Family::BitNet || format.kind != HfLinearFormat::Float;
  const HfTensorLookup lookup{
      [&](const std::string& name) { return shards.find(name); },
      [&](const std::string& name) { return shards.find(name) ? shards.file_of(name) : dir.string(); }};
  LinearCounts counts;
  for (int64_t b = 0; b < c.n_blocks; ++b) {
    const std::string prefix = fmt::format("model.layers.{}.", b);
    for (const auto& [hf_suffix, tern_suffix] : kBlockNames) {
      const std::string hf = prefix + hf_suffix;
      if (shards.find(hf) == nullptr) continue;
      used.insert(hf);
      const std::string name = fmt::format("blk.{}.{}", b, tern_suffix);
      if (auto shape = linear_shape(tern_suffix, c)) {
        d.tensors.push_back(ternary_linear(shards, lookup, format, hf, name, *shape, c, trained_ternary, used, counts));
        continue;
      }
      d.tensors.push_back(float_tensor(shards, hf, name, c));
    }
    for (const char* needed :
         {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
          "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"})
      require(prefix + needed);
  }
  for (const auto& name : shards.names())
    if (!used.count(name) && name.find("rotary_emb") == std::string::npos)
      fail("{}: unexpected tensor '{}' in {} (is num_hidden_layers right?)", dir.string(), name, shards.file_of(name));

  result.post_training_quantized = counts.absmean > 0 && !trained_ternary;
  d.config.source_format = source_format(format, family, counts);
  if (counts.quantized > 0) result.notes.push_back("source format: " + format.description);
  if (counts.exact_per_row + counts.exact_per_tensor > 0)
    result.notes.push_back(fmt::format(
        "{} of {} linears hold exact ternary weights ({} with one scale per row, {} per tensor), kept exactly",
        counts.exact_per_row + counts.exact_per_tensor, counts.total, counts.exact_per_row, counts.exact_per_tensor));
  std::filesystem::path tok = tokenizer;
  if (tok.empty())
    tok = std::filesystem::exists(dir / "tokenizer.model") ? dir / "tokenizer.model" : dir / "tokenizer.json";
  d.vocab = load_vocab_file(tok, c.n_vocab);
  return result;
}

}  // namespace tern
