#pragma once
// The ternary weight formats Hugging Face folders come in, read exactly as their own
// reference code defines them (docs/FORMAT.md 5.2.1-5.2.3):
//  * MobileLLM-ParetoQ: latent weights plus a per-row `weight_clip_val` (w_bits 0 or 1);
//  * BitNet offline-quantized: U8 weights packed [out/4, in] plus a `weight_scale`;
//  * exact ternary float matrices (TriLM unpacked): {-s, 0, +s} per row or per tensor.
#include <functional>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "convert/model_draft.h"
#include "convert/safetensors_reader.h"

namespace tern {

// How a folder's block linears are stored, from config.json.
struct HfLinearFormat {
  enum Kind { Float, ParetoQ, BitNetPacked } kind = Float;
  int w_bits = -1;              // ParetoQ: 0 (1.58-bit) or 1 (binary)
  bool multiply_scale = false;  // BitNet: AutoBitLinear (w = t * weight_scale), else BitLinear (t / weight_scale)
  std::string description;      // for `tern info` (tern.source_format) and messages
};

// Reads the format keys of config.json: `w_bits` (ParetoQ) and `quantization_config`
// (quant_method "bitnet", linear_class, quantization_mode, use_rms_norm). Throws naming
// the file and key for a format tern cannot run exactly (w_bits 2/3/4, an in-linear
// RMSNorm with weights).
HfLinearFormat read_linear_format(const nlohmann::json& config, const std::string& config_file);

// Finds a tensor of the folder (nullptr if absent) and names the file holding it.
struct HfTensorLookup {
  std::function<const SafetensorsTensor*(const std::string&)> find;
  std::function<std::string(const std::string&)> file_of;
};

// One block linear `weight_name` (e.g. "model.layers.0.self_attn.q_proj.weight") of
// n_out x n_in as ternary weights with per-row scales. Adds the companion tensors it
// read (weight_clip_val, weight_scale) to `used`. Returns nullopt for kind Float when
// the weight is not packed (the caller reads it as floats).
std::optional<TernaryWeights> read_quantized_linear(const HfLinearFormat& format, const HfTensorLookup& lookup,
                                                    const std::string& weight_name, int64_t n_out, int64_t n_in,
                                                    std::set<std::string>& used);

// A float matrix whose nonzero entries all have the same magnitude (per tensor, or per
// row) is ternary times a scale: returns it exactly, else nullopt.
std::optional<TernaryWeights> exact_ternary(const std::vector<float>& values, int64_t n_in, int64_t n_rows);

// Reorders a q/k matrix's rows from Hugging Face's half-split RoPE order to tern's
// adjacent pairs (the weights and their per-row scales).
void permute_ternary_rows_for_rope(TernaryWeights& w, int64_t n_heads, int64_t head_dim);

}  // namespace tern
