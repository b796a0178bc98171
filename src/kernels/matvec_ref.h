#pragma once
// The reference products: obviously right, used as the spec for every fast kernel.
#include <cstdint>

#include "io/tensor_type.h"
#include "kernels/activation_quant.h"
#include "kernels/ternary_matrix.h"

namespace tern {

// Integer sums per row group: acc[r * groups + g] = sum of q over +1 weights minus
// sum over -1 weights. Adds and subtracts only.
void ternary_row_sums_ref(const TernaryMatrix& w, const int8_t* q, int32_t* acc);
// The same for row r alone: acc[g] for its groups.
void ternary_row_sums_ref(const TernaryMatrix& w, int64_t r, const int8_t* q, int32_t* acc);
// One row's output from its integer group sums, in the order every kernel uses:
// (sum over g of scales[r, g] * acc[g]) * activation_scale.
float ternary_rescale(const TernaryMatrix& w, int64_t r, const int32_t* acc, float activation_scale);

// y[r] = x.scale * sum_g scales[r, g] * acc[r, g]; `acc` is scratch of
// n_rows * groups_per_row entries.
void ternary_matvec_ref(const TernaryMatrix& w, const QuantizedActivations& x, int32_t* acc, float* y);

// y = W x for a float-like matrix (F32, F16, BF16, Q8_0) stored row by row at `data`;
// `row_scratch` holds n_in floats.
void float_matvec_ref(TensorType type, const uint8_t* data, int64_t n_in, int64_t n_rows, const float* x,
                      float* row_scratch, float* y);

}  // namespace tern
