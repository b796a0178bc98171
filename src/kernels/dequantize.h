#pragma once
// Rows of the float-like tensor types (F32, F16, BF16, Q8_0, Q6_K; Q4_K read only) to and
// from f32.
#include <cstdint>
#include <span>
#include <vector>

#include "io/tensor_type.h"

namespace tern {

// out[0..n) = the n weights of one row stored at `row` in `type`.
void dequantize_row(TensorType type, const uint8_t* row, float* out, int64_t n);
// Encodes one row of n floats as `type` (F32, F16, BF16, Q8_0 or Q6_K); appends to `out`.
void quantize_row(TensorType type, std::span<const float> row, std::vector<uint8_t>& out);

}  // namespace tern
