#pragma once
// Q6_K rows (docs/FORMAT.md 2.4) times float activations with AVX2: what matmul_dense
// computes for Q6_K, up to the int8 rounding of the activations (as q6k_avx512.h).
#include <cstdint>

#include "kernels/q6k_avx512.h"  // kMaxQ6KInput

namespace tern {

// y[t * y_stride + r] = dot(row r, x[t * x_stride ..]) for rows [row_begin, row_end);
// n_in a multiple of 256, at most kMaxQ6KInput.
void matmul_q6k_avx2(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok,
                     int64_t row_begin, int64_t row_end, float* y, int64_t y_stride);

}  // namespace tern
