#pragma once
// The kernel interface: one table of functions per instruction set, chosen at run time.
// Every entry computes exactly what the scalar table computes (integer sums are
// identical; float results agree to rounding).
#include <cstdint>

#include "io/tensor_type.h"
#include "kernels/cpu_features.h"
#include "kernels/kv_rows.h"
#include "kernels/q8_row_groups.h"
#include "kernels/ternary_matrix.h"

namespace tern {

// int8 activations of n_tok tokens after the kernel's prepare step (reordered bytes,
// or lookup tables built from them), 64-byte aligned per token.
struct PreparedActivations {
  const int8_t* q = nullptr;     // [n_tok, stride] bytes in the kernel's own format
  const float* scale = nullptr;  // [n_tok] activation scale (max|x| / 127)
  int64_t stride = 0;            // bytes between tokens (>= prepared_bytes(n_in))
  int64_t n_tok = 0;
};

// n rounded up to the 64-weight chunks of the BitPlanes layout (activation rows are
// zero-padded that far).
inline int64_t padded_to_chunks(int64_t n) {
  return (n + TernaryMatrix::kChunkWeights - 1) / TernaryMatrix::kChunkWeights * TernaryMatrix::kChunkWeights;
}

struct KernelTable {
  Isa isa;
  TernaryLayout layout;  // the layout matmul_ternary reads (TernaryMatrix::from_weights)
  // The widest ternary input whose sums this table keeps exact (equal to the scalar
  // reference's); a model with wider linears must use another table.
  int64_t max_exact_input;
  // Bytes prepare_ternary writes for one token of n_in activations (a multiple of 64).
  int64_t (*prepared_bytes)(int64_t n_in);
  // Turns one token's activations q[0..n_in) (zero-padded to padded_to_chunks(n_in))
  // into what matmul_ternary reads, at out (64-byte aligned).
  void (*prepare_ternary)(const int8_t* q, int64_t n_in, int8_t* out);
  // y[t * y_stride + r] = scale[t] * sum_g scales[r, g] * (integer sum of row r's
  // group g against token t) for rows [row_begin, row_end). Exact integer sums.
  void (*matmul_ternary)(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                         float* y, int64_t y_stride);
  // y[t * y_stride + r] = dot(row r of a float-like matrix, x[t * x_stride ..]).
  void (*matmul_dense)(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                       int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);  // y += a * x
  // Attention of n_heads query heads sharing one KV head over n_pos cached positions
  // (see attention_head.h): q, out [n_heads, head_dim]; scores [n_heads, n_pos].
  void (*attention_heads)(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores, float* out);
  // q[i] = round_half_even(x[i] * 127 / amax); returns amax / 127 (0 if x is all zero).
  float (*quantize_row)(const float* x, int64_t n, int8_t* q);
  // SwiGLU's gating: gate[i] = silu(gate[i]) * up[i], silu(z) = z / (1 + e^-z).
  void (*silu_gate)(float* gate, const float* up, int64_t n);
  // A Q8_0 matrix in row groups (q8_row_groups.h), where the table has a kernel for that
  // layout (null otherwise): what matmul_dense computes for rows [row_begin, row_end),
  // row_begin a multiple of 16, up to float summation order.
  void (*matmul_q8_groups)(const Q8RowGroups& w, const float* x, int64_t x_stride, int64_t n_tok, int64_t row_begin,
                           int64_t row_end, float* y, int64_t y_stride);
  // out[i] = x[i] as IEEE half, rounded to nearest even (the F16 KV cache's stores).
  void (*to_f16)(const float* x, int64_t n, uint16_t* out);
};

const KernelTable& kernel_table(Isa isa);

// Sums exact in 32-bit integers (the reference itself; AVX2's int16 partial sums flush
// into int32 before they can overflow): |sum| <= n_in * 127 < 2^31.
inline constexpr int64_t kMaxExactInputInt32 = ((int64_t{1} << 31) - 1) / 127;

// Declared per instruction set file; kernel_table picks one.
const KernelTable& scalar_kernels();
// The scalar gating (std::exp).
void silu_gate_scalar(float* gate, const float* up, int64_t n);
// x86-64 builds only:
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();
// ARM64 builds only:
const KernelTable& neon_kernels();
const KernelTable& dotprod_kernels();
const KernelTable& i8mm_kernels();

}  // namespace tern
