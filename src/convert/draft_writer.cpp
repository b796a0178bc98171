#include "convert/draft_writer.h"

#include <spdlog/spdlog.h>

#include "kernels/dequantize.h"
#include "tern/error.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pre_tokenizer.h"

namespace tern {
namespace {

bool is_embedding(const std::string& name) { return name == "token_embd.weight" || name == "output.weight"; }

bool scales_all_equal(const TernaryWeights& w) {
  for (float s : w.scales)
    if (s != w.scales.front()) return false;
  return true;
}

// The ternary type one tensor gets: the requested one, unless it cannot hold the
// tensor exactly and another can. TERN2 and TERN2R are one family: one scale per
// tensor where the scales agree, one per row where they do not.
TensorType ternary_type_for(const DraftTensor& t, TensorType requested) {
  const TernaryWeights& w = *t.ternary;
  const bool blocks_fit = w.n_in % kTernaryBlock == 0;
  if (requested == TensorType::TERN2 || requested == TensorType::TERN2R) {
    if (requested == TensorType::TERN2 && scales_all_equal(w)) return TensorType::TERN2;
    if (w.group == w.n_in) return TensorType::TERN2R;
    if (blocks_fit && w.group == kTernaryBlock) {
      spdlog::info("{}: per-block scales differ, kept as TQ2_0 (TERN2 holds one scale, TERN2R one per row)", t.name);
      return TensorType::TQ2_0;
    }
    fail(
        "tensor '{}' has {} different scales, which neither TERN2 (one scale), TERN2R (one per row) nor TQ2_0 "
        "(256-weight blocks, rows of {}) can hold",
        t.name, w.scales.size(), w.n_in);
  }
  if (!blocks_fit)
    fail("tensor '{}' has rows of {} weights; {} needs a multiple of 256 (use --type tern2, which takes any width)",
         t.name, w.n_in, tensor_type_name(requested));
  return requested;
}

// A llama GGUF holds ternary linears as TQ2_0/TQ1_0 blocks of 256 weights. Rows of
// another width are written the way llama.cpp's quantizer falls back for them, as
// Q8_0 where they are whole 32-blocks (+-127 x scale/127: exact up to the f16 scale,
// like TQ2_0's), else F16: every engine reads them, they are just bigger.
TensorType llama_ternary_type_for(const DraftTensor& t, TensorType requested) {
  const int64_t n_in = t.ternary->n_in;
  if (n_in % kTernaryBlock == 0) return ternary_type_for(t, requested);
  const TensorType fallback = n_in % traits(TensorType::Q8_0).block_weights == 0 ? TensorType::Q8_0 : TensorType::F16;
  spdlog::info("{}: rows of {} weights are not whole {}-weight {} blocks; written as {}", t.name, n_in, kTernaryBlock,
               tensor_type_name(requested), tensor_type_name(fallback));
  return fallback;
}

TensorType float_type_for(const DraftTensor& t, const DraftWriteOptions& o) {
  if (t.ne.size() == 1) return TensorType::F32;  // norms stay exact
  const TensorType type = !is_embedding(t.name)                        ? o.dense_type
                          : o.embedding_type                           ? *o.embedding_type
                          : row_length_fits(TensorType::Q8_0, t.ne[0]) ? TensorType::Q8_0
                                                                       : TensorType::F32;
  if (!row_length_fits(type, t.ne[0]))
    fail("tensor '{}' has rows of {} values; {} needs a multiple of {}", t.name, t.ne[0], tensor_type_name(type),
         traits(type).block_weights);
  return type;
}

// The values a ternary tensor stands for, weight x its group's scale.
std::vector<float> ternary_values(const TernaryWeights& w) {
  std::vector<float> values(w.weights.size());  // [n_rows, n_in]
  for (size_t i = 0; i < values.size(); ++i) values[i] = w.weights[i] * w.scales[i / w.group];
  return values;
}

std::vector<uint8_t> encode(const DraftTensor& t, TensorType type) {
  if (t.is_ternary() && traits(type).ternary) return encode_ternary(type, *t.ternary);
  const std::vector<float> values = t.is_ternary() ? ternary_values(*t.ternary) : t.values;
  std::vector<uint8_t> bytes;
  const auto n_in = static_cast<int64_t>(t.ne[0]);
  bytes.reserve(tensor_bytes(type, t.ne[0], t.n_elements() / t.ne[0]));
  for (size_t row = 0; row < values.size() / n_in; ++row)
    quantize_row(type, std::span<const float>(values).subspan(row * n_in, n_in), bytes);
  return bytes;
}

void write_config_keys(const ModelDraft& d, const std::string& arch, GgufWriter& w) {
  const ModelConfig& c = d.config;
  const std::string a = arch + ".";
  const auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  w.set("general.architecture", GgufValue::string(arch));
  if (!c.name.empty()) w.set("general.name", GgufValue::string(c.name));
  if (!c.source_format.empty()) w.set("tern.source_format", GgufValue::string(c.source_format));
  w.set(a + "context_length", u32(c.context_length));
  w.set(a + "embedding_length", u32(c.dim));
  w.set(a + "feed_forward_length", u32(c.ffn));
  w.set(a + "block_count", u32(c.n_blocks));
  w.set(a + "attention.head_count", u32(c.n_heads));
  w.set(a + "attention.head_count_kv", u32(c.n_kv_heads));
  w.set(a + "attention.key_length", u32(c.head_dim));
  w.set(a + "attention.value_length", u32(c.head_dim));
  w.set(a + "rope.dimension_count", u32(c.head_dim));
  w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_eps));
  w.set(a + "rope.freq_base", GgufValue::f32(c.rope_base));
  w.set(a + "vocab_size", u32(c.n_vocab));
  if (arch != "mobilellm") return;
  w.set("mobilellm.block_repeat", u32(c.block_repeat));
  w.set("mobilellm.ffn_activation", GgufValue::string(c.activation == FfnActivation::Silu ? "silu" : "relu2"));
  w.set("mobilellm.linear_norm", GgufValue::boolean(c.linear_norm));
  w.set("mobilellm.linear_norm_epsilon", GgufValue::f32(c.linear_norm_eps));
}

}  // namespace

namespace {

// tokenizer.ggml.* ids: (u32)-1 is llama.cpp's "no such token".
GgufValue token_id_value(int32_t id) { return GgufValue::u32(static_cast<uint32_t>(id)); }

// llama.cpp's keys for byte-level BPE: merges in rank order, and the name of the
// pre-tokenizer (its regexes are implied by the name, not stored). A pre-tokenizer
// no name stands for is stored whole under tern's own keys, with a name llama.cpp
// refuses rather than one it would silently tokenize differently with.
void write_byte_level_keys(const Vocab& v, GgufWriter& w) {
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  if (v.pre.empty() || v.pre == kCustomPreTokenizerName) {
    w.set("tokenizer.ggml.pre", GgufValue::string(std::string(kCustomPreTokenizerName)));
    w.set("tern.tokenizer.pre_tokenizer", GgufValue::string(pre_tokenizer_to_hf_json(v.pre_tokenizer)));
    w.set("tern.tokenizer.ignore_merges", GgufValue::boolean(v.ignore_merges));
    w.set("tern.tokenizer.normalize_nfc", GgufValue::boolean(v.normalize_nfc));
  } else {
    w.set("tokenizer.ggml.pre", GgufValue::string(v.pre));
  }
  w.set("tokenizer.ggml.merges", GgufValue::string_array(v.merges));
}

}  // namespace

void write_vocab_keys(const Vocab& v, GgufWriter& w) {
  std::vector<int32_t> types;
  for (auto t : v.types) types.push_back(static_cast<int32_t>(t));
  const bool spm = v.model == TokenizerModel::SentencePiece;
  if (spm) {
    w.set("tokenizer.ggml.model", GgufValue::string("llama"));
    w.set("tokenizer.ggml.tokens", GgufValue::string_array(v.pieces));
    w.set("tokenizer.ggml.scores", GgufValue::f32_array(v.scores));
  } else {
    write_byte_level_keys(v, w);
    w.set("tokenizer.ggml.tokens", GgufValue::string_array(v.pieces));
  }
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  w.set("tokenizer.ggml.bos_token_id", token_id_value(v.bos_id));
  w.set("tokenizer.ggml.eos_token_id", token_id_value(v.eos_id));
  if (spm || v.unk_id >= 0) w.set("tokenizer.ggml.unknown_token_id", token_id_value(v.unk_id));
  if (v.pad_id >= 0) w.set("tokenizer.ggml.padding_token_id", token_id_value(v.pad_id));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(v.add_bos));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(v.add_eos));
  if (spm) {
    w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(v.add_space_prefix));
    w.set("tokenizer.ggml.remove_extra_whitespaces", GgufValue::boolean(v.remove_extra_whitespaces));
  }
  if (!v.chat_template.empty()) w.set("tokenizer.chat_template", GgufValue::string(v.chat_template));
}

std::vector<PlannedTensor> plan_tensors(const ModelDraft& d, const DraftWriteOptions& o) {
  if (o.architecture == "llama") {
    const auto features = d.tern_only_features();
    if (!features.empty()) fail("{}: cannot be written as a llama GGUF: it uses {}", d.source, features.front());
    if (d.config.block_repeat != 1) fail("internal: unshare blocks before a llama export");
  } else if (o.architecture != "mobilellm") {
    fail("unknown target architecture '{}' (expected mobilellm or llama)", o.architecture);
  }
  std::vector<PlannedTensor> plan;
  for (const auto& t : d.tensors) {
    const TensorType type = !t.is_ternary()             ? float_type_for(t, o)
                            : o.architecture == "llama" ? llama_ternary_type_for(t, o.ternary_type)
                                                        : ternary_type_for(t, o.ternary_type);
    plan.push_back({t.name, t.ne, type, tensor_bytes(type, t.ne[0], t.n_elements() / t.ne[0])});
  }
  return plan;
}

GgufWriter draft_to_gguf(const ModelDraft& d, const std::vector<PlannedTensor>& plan, const DraftWriteOptions& o,
                         const std::function<void(size_t, size_t)>& progress) {
  GgufWriter w;
  write_config_keys(d, o.architecture, w);
  write_vocab_keys(d.vocab, w);
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& t = d.tensors[i];
    if (t.is_ternary() && traits(plan[i].type).block_weights == kTernaryBlock && t.ternary->group != kTernaryBlock)
      spdlog::info("{}: one scale per {} stored as f16 per 256-block ({})", t.name,
                   scales_all_equal(*t.ternary) ? "tensor" : "row", tensor_type_name(plan[i].type));
    w.add_tensor(t.name, plan[i].type, t.ne, encode(t, plan[i].type));
    if (progress) progress(i + 1, plan.size());
  }
  return w;
}

}  // namespace tern
