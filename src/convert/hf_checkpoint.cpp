#include "convert/hf_checkpoint.h"

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "convert/safetensors_reader.h"
#include "convert/tokenizer_source.h"
#include "tern/error.h"

namespace tern {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail("{}: not found", path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

enum class Family { Llama, MobileLlm, BitNet };

Family family_of(const json& config, const std::string& file) {
  const auto archs = config.value("architectures", std::vector<std::string>{});
  const std::string arch = archs.empty() ? config.value("model_type", "") : archs.front();
  if (arch == "LlamaForCausalLM" || arch == "llama") return Family::Llama;
  if (arch == "MobileLLMForCausalLM" || arch == "mobilellm") return Family::MobileLlm;
  if (arch == "BitnetForCausalLM" || arch == "BitNetForCausalLM" || arch == "bitnet") return Family::BitNet;
  fail("{}: architecture '{}' is not supported (LlamaForCausalLM, MobileLLMForCausalLM, BitnetForCausalLM, BitNetForCausalLM)",
       file, arch);
}

int64_t required_int(const json& config, const char* key, const std::string& file) {
  if (!config.contains(key) || !config[key].is_number_integer()) fail("{}: missing integer key '{}'", file, key);
  const auto v = config[key].get<int64_t>();
  if (v <= 0) fail("{}: key '{}' is {}, expected a positive integer", file, key, v);
  return v;
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
  c.rms_eps = j.value("rms_norm_eps", 1e-6f);
  c.rope_base = j.value("rope_theta", 10000.0f);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    fail("{}: rope_scaling is not supported", file);
  const std::string act = j.value("hidden_act", "silu");
  if (act == "relu2") c.activation = FfnActivation::Relu2;
  else if (act != "silu") fail("{}: hidden_act '{}' is not supported (silu, relu2)", file, act);
  if (j.value("layer_sharing", false)) c.block_repeat = j.value("layer_sharing_repeat", 2);
  if (c.block_repeat < 1) fail("{}: layer_sharing_repeat must be >= 1", file);
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
      for (const auto& [name, file] : index_json.at("weight_map").items()) files.insert(file.get<std::string>());
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

DraftTensor float_tensor(const Shards& shards, const std::string& hf, const std::string& tern) {
  const auto* t = shards.find(hf);
  DraftTensor d;
  d.name = tern;
  d.ne.assign(t->shape.rbegin(), t->shape.rend());
  d.values = t->to_floats(shards.file_of(hf));
  return d;
}

}  // namespace

HfReadResult read_hf_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& tokenizer) {
  const auto config_path = dir / "config.json";
  const json j = read_json(config_path);
  const Family family = family_of(j, config_path.string());
  HfReadResult result;
  ModelDraft& d = result.draft;
  d.source = dir.string();
  d.config = read_config(j, config_path.string());
  const ModelConfig& c = d.config;
  const bool tied = j.value("tie_word_embeddings", false) || j.value("share_embedding", false);

  const Shards shards(dir);
  std::set<std::string> used;
  auto require = [&](const std::string& name) {
    if (shards.find(name) == nullptr) fail("{}: missing tensor '{}'", dir.string(), name);
    used.insert(name);
    return name;
  };
  d.tensors.push_back(float_tensor(shards, require("model.embed_tokens.weight"), "token_embd.weight"));
  d.tensors.push_back(float_tensor(shards, require("model.norm.weight"), "output_norm.weight"));
  if (!tied) d.tensors.push_back(float_tensor(shards, require("lm_head.weight"), "output.weight"));
  else if (shards.find("lm_head.weight")) used.insert("lm_head.weight");

  for (int64_t b = 0; b < c.n_blocks; ++b) {
    const std::string prefix = fmt::format("model.layers.{}.", b);
    for (const auto& [hf_suffix, tern_suffix] : kBlockNames) {
      const std::string hf = prefix + hf_suffix;
      if (shards.find(hf) == nullptr) continue;
      used.insert(hf);
      DraftTensor t = float_tensor(shards, hf, fmt::format("blk.{}.{}", b, tern_suffix));
      if (t.ne.size() == 2) {
        const auto n_in = static_cast<int64_t>(t.ne[0]);
        const auto rows = static_cast<int64_t>(t.ne[1]);
        if (std::string(tern_suffix) == "attn_q.weight") t.values = permute_for_rope(t.values, c.n_heads, c.head_dim, n_in);
        if (std::string(tern_suffix) == "attn_k.weight") t.values = permute_for_rope(t.values, c.n_kv_heads, c.head_dim, n_in);
        t.ternary = ternarize_absmean(t.values, n_in, rows);
        t.values.clear();
      }
      d.tensors.push_back(std::move(t));
    }
    for (const char* needed : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                               "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                               "mlp.down_proj.weight"})
      require(prefix + needed);
  }
  for (const auto& name : shards.names())
    if (!used.count(name) && name.find("rotary_emb") == std::string::npos)
      fail("{}: unexpected tensor '{}' in {} (is num_hidden_layers right?)", dir.string(), name, shards.file_of(name));

  // Trained ternary: the BitNet families, or any folder whose quantization_config says
  // its linears were BitNet b1.58 during training (tools/train writes that).
  const bool trained_ternary =
      family == Family::BitNet ||
      (j.contains("quantization_config") && j["quantization_config"].is_object() &&
       j["quantization_config"].value("quant_method", "") == "bitnet");
  result.post_training_quantized = !trained_ternary;
  std::filesystem::path tok = tokenizer;
  if (tok.empty()) tok = std::filesystem::exists(dir / "tokenizer.model") ? dir / "tokenizer.model" : dir / "tokenizer.json";
  d.vocab = load_vocab_file(tok, c.n_vocab);
  return result;
}

}  // namespace tern
