#pragma once
// Float-like rows with no direct SIMD kernel (the K-quants Q4_K / Q6_K, which tern reads
// from llama.cpp's TQ1_0 / TQ2_0 files): rows are dequantized a stretch at a time into
// f32 and multiplied by the instruction set's own F32 product.
#include <cstdint>

#include "io/tensor_type.h"

namespace tern {

using DenseProduct = void (*)(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                              int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride);

// What matmul_dense computes for `type`, through f32_product on dequantized rows.
void matmul_dense_via_f32(DenseProduct f32_product, TensorType type, const uint8_t* data, int64_t n_in, const float* x,
                          int64_t x_stride, int64_t n_tok, int64_t row_begin, int64_t row_end, float* y,
                          int64_t y_stride);

}  // namespace tern
