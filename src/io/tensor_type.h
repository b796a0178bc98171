#pragma once
// The tensor element types tern knows: ggml's ids for the ones it shares with
// llama.cpp, bitnet.cpp's I2_S, and tern's own TERN2 / TERN2R (see docs/FORMAT.md, section 2).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q6_K = 14,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  I2_S = 36,  // bitnet.cpp's ternary type (microsoft/BitNet's ggml fork): read only
  TERN2 = 4096,
  TERN2R = 4097,  // TERN2 with one f32 scale per row
};

struct TensorTypeTraits {
  TensorType type;
  const char* name;
  uint32_t block_weights;  // weights per block; 0 means "one block per row" (TERN2, TERN2R)
  uint32_t block_bytes;    // bytes per block (unused for TERN2, TERN2R)
  bool ternary;
};

// Traits of a supported type, or nullopt.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id);
const TensorTypeTraits& traits(TensorType type);
std::string_view tensor_type_name(TensorType type);
// Name of any ggml type id (supported or not), for error messages: "Q4_K", "type 77".
std::string ggml_type_name(uint32_t id);
std::optional<TensorType> tensor_type_from_name(std::string_view name);  // "tq2_0", "TERN2", ...
std::string supported_tensor_type_names();

// True when a row of n_in weights is a whole number of the type's blocks.
bool row_length_fits(TensorType type, uint64_t n_in);
// Bytes of one row of n_in weights (requires row_length_fits).
uint64_t row_bytes(TensorType type, uint64_t n_in);
// Bytes of a whole tensor of n_rows rows of n_in weights (TERN2 adds its scale,
// TERN2R one scale per row, I2_S its scale and padding: 32 bytes).
uint64_t tensor_bytes(TensorType type, uint64_t n_in, uint64_t n_rows);

}  // namespace tern
