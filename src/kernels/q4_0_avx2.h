#pragma once
// Q4_0 rows (docs/FORMAT.md 2.7) times float activations with AVX2: what matmul_dense
// computes for Q4_0, up to the int8 rounding of the activations (per 32 inputs, as for
// Q8_0 rows).
#include <cstdint>

namespace tern {

constexpr int64_t kMaxQ4_0Input = 8192;  // = kMaxQ8Input: the activations are Q8_0's

// y[t * y_stride + r] = dot(row r, x[t * x_stride ..]) for rows [row_begin, row_end);
// n_in a multiple of 32, at most kMaxQ4_0Input.
void matmul_q4_0_avx2(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok,
                      int64_t row_begin, int64_t row_end, float* y, int64_t y_stride);

}  // namespace tern
