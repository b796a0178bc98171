#pragma once
// Rows of the float-like tensor types (F32, F16, BF16, Q4_0, Q8_0, Q6_K; Q4_K read only) to
// and from f32.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "io/tensor_type.h"

namespace tern {

// out[0..n) = the n weights of one row stored at `row` in `type`.
void dequantize_row(TensorType type, const uint8_t* row, float* out, int64_t n);
// Encodes one row of n floats as `type` (F32, F16, BF16, Q4_0, Q8_0 or Q6_K); appends to `out`.
void quantize_row(TensorType type, std::span<const float> row, std::vector<uint8_t>& out);

// The first block of `data` (whole blocks of a Q4_0 or Q8_0 tensor, whose f16 scale d
// opens each block) whose d is NaN or Inf, or nullopt; other types have none to check.
// Such a block would turn every product it enters into NaN.
std::optional<uint64_t> first_non_finite_block_scale(TensorType type, std::span<const uint8_t> data);

}  // namespace tern
