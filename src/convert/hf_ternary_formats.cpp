#include "convert/hf_ternary_formats.h"

#include "io/json_number.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "tern/error.h"

namespace tern {
namespace {

using nlohmann::json;

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj." + suffix
std::string companion(const std::string& weight_name, const std::string& suffix) {
  return weight_name.substr(0, weight_name.size() - std::string("weight").size()) + suffix;
}

const SafetensorsTensor& require_companion(const HfTensorLookup& lookup, const std::string& weight_name,
                                           const std::string& suffix, const std::string& why,
                                           std::set<std::string>& used) {
  const std::string name = companion(weight_name, suffix);
  const SafetensorsTensor* t = lookup.find(name);
  if (t == nullptr) fail("{}: missing tensor '{}' ({})", lookup.file_of(weight_name), name, why);
  used.insert(name);
  return *t;
}

// ParetoQ (facebookresearch/ParetoQ, utils_quant.py), per row r with alpha_r floored at 1e-5:
//   w_bits 0 (StretchedElasticQuant): t = round(clamp(w / alpha, -0.99, 0.99) * 1.5), w_q = t * alpha / 1.5
//   w_bits 1 (LsqBinaryTernaryExtension): t = sign(w), w_q = t * alpha
// Computed in double from the stored values; round is half-to-even like torch.round.
TernaryWeights paretoq_linear(const HfLinearFormat& format, const HfTensorLookup& lookup, const std::string& name,
                              int64_t n_out, int64_t n_in, std::set<std::string>& used) {
  const SafetensorsTensor* weight = lookup.find(name);
  const std::string file = lookup.file_of(name);
  if (weight->shape != std::vector<uint64_t>{static_cast<uint64_t>(n_out), static_cast<uint64_t>(n_in)})
    fail("{}: tensor '{}' has shape {}, expected [{}, {}]", file, name, shape_string(weight->shape), n_out, n_in);
  const SafetensorsTensor& clip = require_companion(
      lookup, name, "weight_clip_val",
      fmt::format("MobileLLM-ParetoQ w_bits {} needs one per linear, shape [{}, 1]", format.w_bits, n_out), used);
  if (clip.shape != std::vector<uint64_t>{static_cast<uint64_t>(n_out), 1})
    fail("{}: tensor '{}' has shape {}, expected [{}, 1] (one alpha per row)", lookup.file_of(clip.name), clip.name,
         shape_string(clip.shape), n_out);
  const std::vector<float> w = weight->to_floats(file);
  const std::vector<float> alpha = clip.to_floats(lookup.file_of(clip.name));
  TernaryWeights out;
  out.n_in = n_in;
  out.n_rows = n_out;
  out.group = n_in;
  out.weights.resize(w.size());
  out.scales.resize(static_cast<size_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) {
    if (!std::isfinite(alpha[r]))
      fail("{}: tensor '{}' row {} is {}, expected a finite alpha", lookup.file_of(clip.name), clip.name, r, alpha[r]);
    const double a = std::max(static_cast<double>(alpha[r]), 1e-5);
    for (int64_t c = 0; c < n_in; ++c) {
      const double v = w[r * n_in + c];
      double t;
      if (format.w_bits == 0) t = std::nearbyint(std::clamp(v / a, -0.99, 0.99) * 1.5);
      else t = static_cast<double>((v > 0) - (v < 0));
      out.weights[r * n_in + c] = static_cast<int8_t>(t);
    }
    out.scales[r] = static_cast<float>(format.w_bits == 0 ? a / 1.5 : a);
  }
  return out;
}

// Hugging Face BitNet packing (transformers integrations/bitnet.py): U8 [out/4, in];
// packed row r holds rows r + k * out/4 (k = 0..3) in bits 2k+1..2k as t + 1.
TernaryWeights bitnet_packed_linear(const HfLinearFormat& format, const HfTensorLookup& lookup,
                                    const SafetensorsTensor& weight, int64_t n_out, int64_t n_in,
                                    std::set<std::string>& used) {
  const std::string& name = weight.name;
  const std::string file = lookup.file_of(name);
  if (n_out % 4 != 0 ||
      weight.shape != std::vector<uint64_t>{static_cast<uint64_t>(n_out / 4), static_cast<uint64_t>(n_in)})
    fail("{}: packed tensor '{}' has shape {}, expected [out/4, in] = [{}/4, {}]", file, name,
         shape_string(weight.shape), n_out, n_in);
  const SafetensorsTensor& scale_tensor = require_companion(
      lookup, name, "weight_scale", "an offline-quantized BitNet linear needs its weight_scale", used);
  const std::string scale_file = lookup.file_of(scale_tensor.name);
  if (scale_tensor.n_elements() != 1)
    fail("{}: tensor '{}' has shape {}, expected [1]", scale_file, scale_tensor.name, shape_string(scale_tensor.shape));
  const float ws = scale_tensor.to_floats(scale_file).at(0);
  if (!std::isfinite(ws) || ws == 0.0f)
    fail("{}: tensor '{}' is {}, expected a finite nonzero scale", scale_file, scale_tensor.name, ws);
  TernaryWeights out;
  out.n_in = n_in;
  out.n_rows = n_out;
  out.group = n_in;
  out.weights.resize(static_cast<size_t>(n_out * n_in));
  const int64_t quarter = n_out / 4;
  for (int64_t r = 0; r < quarter; ++r)
    for (int64_t c = 0; c < n_in; ++c) {
      const uint8_t byte = weight.data[r * n_in + c];
      for (int64_t k = 0; k < 4; ++k) {
        const int code = (byte >> (2 * k)) & 3;
        if (code == 3)
          fail("{}: packed tensor '{}' has the invalid code 3 at [{}, {}] bits {}-{}", file, name, r, c, 2 * k + 1,
               2 * k);
        out.weights[(r + k * quarter) * n_in + c] = static_cast<int8_t>(code - 1);
      }
    }
  // AutoBitLinear multiplies the output by weight_scale; BitLinear divides by it.
  const float scale = format.multiply_scale ? ws : 1.0f / ws;
  out.scales.assign(static_cast<size_t>(n_out), std::fabs(scale));
  if (scale < 0)
    for (auto& t : out.weights) t = static_cast<int8_t>(-t);
  return out;
}

}  // namespace

HfLinearFormat read_linear_format(const json& j, const std::string& file) {
  HfLinearFormat f;
  if (j.contains("w_bits")) {
    // Any integer is read exactly (no wrap-around), so only 0 and 1 pass the check below.
    f.w_bits =
        static_cast<int>(require_integer(j["w_bits"], -(1 << 30), 1 << 30, fmt::format("{}: key 'w_bits'", file)));
    if (f.w_bits != 0 && f.w_bits != 1)
      fail("{}: key 'w_bits' is {}, expected 0 (1.58-bit) or 1 (1-bit): MobileLLM-ParetoQ with {} bits is not ternary",
           file, f.w_bits, f.w_bits);
    f.kind = HfLinearFormat::ParetoQ;
    f.description = fmt::format("MobileLLM-ParetoQ w_bits {} ({}, per-row weight_clip_val)", f.w_bits,
                                f.w_bits == 0 ? "1.58-bit StretchedElasticQuant" : "1-bit sign");
    return f;
  }
  if (!j.contains("quantization_config") || !j["quantization_config"].is_object()) return f;
  const json& q = j["quantization_config"];
  if (q.value("quant_method", "") != "bitnet") return f;
  if (q.value("use_rms_norm", false))
    fail(
        "{}: key 'quantization_config.use_rms_norm' is true: an RMSNorm with weights inside every linear is not "
        "supported",
        file);
  const std::string linear_class = q.value("linear_class", "bitlinear");
  if (linear_class != "bitlinear" && linear_class != "autobitlinear")
    fail("{}: key 'quantization_config.linear_class' is '{}', expected 'bitlinear' or 'autobitlinear'", file,
         linear_class);
  f.kind = HfLinearFormat::BitNetPacked;  // packed where a weight is U8; float weights stay absmean (online)
  f.multiply_scale = linear_class == "autobitlinear";
  f.description = fmt::format("Hugging Face BitNet ({}, weight_scale {})", linear_class,
                              f.multiply_scale ? "multiplies" : "divides");
  return f;
}

std::optional<TernaryWeights> read_quantized_linear(const HfLinearFormat& format, const HfTensorLookup& lookup,
                                                    const std::string& weight_name, int64_t n_out, int64_t n_in,
                                                    std::set<std::string>& used) {
  if (format.kind == HfLinearFormat::ParetoQ) return paretoq_linear(format, lookup, weight_name, n_out, n_in, used);
  const SafetensorsTensor* weight = lookup.find(weight_name);
  if (weight->dtype == "U8" || weight->dtype == "I8") {
    if (format.kind != HfLinearFormat::BitNetPacked)
      fail("{}: tensor '{}' is {} (packed) but config.json has no quantization_config with quant_method 'bitnet'",
           lookup.file_of(weight_name), weight_name, weight->dtype);
    if (weight->dtype != "U8")
      fail("{}: packed tensor '{}' has dtype {}, expected U8", lookup.file_of(weight_name), weight_name, weight->dtype);
    return bitnet_packed_linear(format, lookup, *weight, n_out, n_in, used);
  }
  if (format.kind == HfLinearFormat::BitNetPacked && lookup.find(companion(weight_name, "weight_scale")) != nullptr)
    fail("{}: tensor '{}' has a weight_scale but dtype {}, expected U8 packed [{}/4, {}]", lookup.file_of(weight_name),
         weight_name, weight->dtype, n_out, n_in);
  return std::nullopt;
}

std::optional<TernaryWeights> exact_ternary(const std::vector<float>& values, int64_t n_in, int64_t n_rows) {
  TernaryWeights out;
  out.n_in = n_in;
  out.n_rows = n_rows;
  out.group = n_in;
  out.weights.resize(values.size());
  out.scales.assign(static_cast<size_t>(n_rows), 0.0f);
  float common = 0.0f;  // the scale of the first row with a nonzero weight
  for (int64_t r = 0; r < n_rows; ++r) {
    float s = 0.0f;
    for (int64_t c = 0; c < n_in; ++c) {
      const float v = values[r * n_in + c];
      if (v == 0.0f) {
        out.weights[r * n_in + c] = 0;
        continue;
      }
      if (s == 0.0f) s = std::fabs(v);
      if (std::fabs(v) != s || !std::isfinite(v)) return std::nullopt;
      out.weights[r * n_in + c] = static_cast<int8_t>(v > 0 ? 1 : -1);
    }
    out.scales[r] = s;
    if (common == 0.0f) common = s;
  }
  if (common == 0.0f) return std::nullopt;  // all zero: nothing to detect
  for (auto& s : out.scales)
    if (s == 0.0f) s = common;  // an all-zero row takes any scale; the common one keeps TERN2 possible
  return out;
}

void permute_ternary_rows_for_rope(TernaryWeights& w, int64_t n_heads, int64_t head_dim) {
  if (n_heads * head_dim != w.n_rows || head_dim % 2 != 0)
    fail("internal: RoPE row permutation of {} rows as {} heads of {}", w.n_rows, n_heads, head_dim);
  TernaryWeights out = w;
  const int64_t groups = w.groups_per_row();
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t j = 0; j < head_dim / 2; ++j)
      for (int64_t half = 0; half < 2; ++half) {
        const int64_t from = h * head_dim + half * (head_dim / 2) + j;
        const int64_t to = h * head_dim + 2 * j + half;
        std::copy_n(w.weights.begin() + from * w.n_in, w.n_in, out.weights.begin() + to * w.n_in);
        std::copy_n(w.scales.begin() + from * groups, groups, out.scales.begin() + to * groups);
      }
  w = std::move(out);
}

}  // namespace tern
