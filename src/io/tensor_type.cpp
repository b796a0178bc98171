#include "io/tensor_type.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "tern/error.h"

namespace tern {
namespace {

// I2_S ends with its f32 scale padded to 32 bytes (bitnet.cpp's alignment).
constexpr uint64_t kI2sTrailerBytes = 32;

constexpr std::array kSupported = {
    TensorTypeTraits{TensorType::F32, "F32", 1, 4, false},
    TensorTypeTraits{TensorType::F16, "F16", 1, 2, false},
    TensorTypeTraits{TensorType::BF16, "BF16", 1, 2, false},
    TensorTypeTraits{TensorType::Q4_0, "Q4_0", 32, 18, false},
    TensorTypeTraits{TensorType::Q8_0, "Q8_0", 32, 34, false},
    TensorTypeTraits{TensorType::Q4_K, "Q4_K", 256, 144, false},
    TensorTypeTraits{TensorType::Q6_K, "Q6_K", 256, 210, false},
    TensorTypeTraits{TensorType::TQ1_0, "TQ1_0", 256, 54, true},
    TensorTypeTraits{TensorType::TQ2_0, "TQ2_0", 256, 66, true},
    TensorTypeTraits{TensorType::I2_S, "I2_S", 128, 32, true},
    TensorTypeTraits{TensorType::TERN2, "TERN2", 0, 0, true},
    TensorTypeTraits{TensorType::TERN2R, "TERN2R", 0, 0, true},
};

// ggml's names for ids tern does not run, so errors can say what a file contains.
constexpr std::array<const char*, 40> kGgmlNames = {
    "F32",    "F16",      "Q4_0",     "Q4_1",     "Q4_2",  "Q4_3",  "Q5_0",    "Q5_1",       "Q8_0",       "Q8_1",
    "Q2_K",   "Q3_K",     "Q4_K",     "Q5_K",     "Q6_K",  "Q8_K",  "IQ2_XXS", "IQ2_XS",     "IQ3_XXS",    "IQ1_S",
    "IQ4_NL", "IQ3_S",    "IQ2_S",    "IQ4_XS",   "I8",    "I16",   "I32",     "I64",        "F64",        "IQ1_M",
    "BF16",   "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "I2_S",    "IQ4_NL_4_4", "IQ4_NL_4_8", "MXFP4"};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id) {
  for (const auto& t : kSupported)
    if (static_cast<uint32_t>(t.type) == id) return t;
  return std::nullopt;
}

const TensorTypeTraits& traits(TensorType type) {
  for (const auto& t : kSupported)
    if (t.type == type) return t;
  fail("internal: unsupported tensor type id {}", static_cast<uint32_t>(type));
}

std::string_view tensor_type_name(TensorType type) { return traits(type).name; }

std::string ggml_type_name(uint32_t id) {
  if (auto t = tensor_type_traits(id)) return t->name;
  if (id < kGgmlNames.size()) return kGgmlNames[id];
  return fmt::format("type {}", id);
}

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const auto& t : kSupported)
    if (upper == t.name) return t.type;
  return std::nullopt;
}

std::string supported_tensor_type_names() {
  std::string names;
  for (const auto& t : kSupported) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

bool row_length_fits(TensorType type, uint64_t n_in) {
  const auto& t = traits(type);
  return t.block_weights == 0 || n_in % t.block_weights == 0;
}

uint64_t row_bytes(TensorType type, uint64_t n_in) {
  const auto& t = traits(type);
  if (t.block_weights == 0) return (n_in + 3) / 4;  // TERN2: 4 weights per byte
  return n_in / t.block_weights * t.block_bytes;
}

uint64_t tensor_bytes(TensorType type, uint64_t n_in, uint64_t n_rows) {
  uint64_t scale_bytes = 0;
  if (type == TensorType::TERN2) scale_bytes = sizeof(float);
  if (type == TensorType::TERN2R) scale_bytes = sizeof(float) * n_rows;
  if (type == TensorType::I2_S) scale_bytes = kI2sTrailerBytes;
  return row_bytes(type, n_in) * n_rows + scale_bytes;
}

}  // namespace tern
