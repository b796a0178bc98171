// The scalar kernel table: the reference products (matvec_ref) behind the kernel
// interface. Every SIMD table is tested against this one.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention_head.h"
#include "kernels/dequantize.h"
#include "kernels/float16.h"
#include "kernels/kernels.h"
#include "kernels/matvec_ref.h"

namespace tern {
namespace {

int64_t prepared_bytes_identity(int64_t n_in) { return padded_to_chunks(n_in); }
void prepare_identity(const int8_t* q, int64_t n_in, int8_t* out) {
  std::memcpy(out, q, static_cast<size_t>(padded_to_chunks(n_in)));
}

void matmul_ternary_scalar(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                           float* y, int64_t y_stride) {
  std::vector<int32_t> acc(static_cast<size_t>(w.groups_per_row()));
  for (int64_t t = 0; t < x.n_tok; ++t)
    for (int64_t r = row_begin; r < row_end; ++r) {
      ternary_row_sums_ref(w, r, x.q + t * x.stride, acc.data());
      y[t * y_stride + r] = ternary_rescale(w, r, acc.data(), x.scale[t]);
    }
}

void matmul_dense_scalar(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                         int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  std::vector<float> row(static_cast<size_t>(n_in));
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  for (int64_t r = row_begin; r < row_end; ++r) {
    dequantize_row(type, data + r * stride, row.data(), n_in);
    for (int64_t t = 0; t < n_tok; ++t) {
      float sum = 0;
      for (int64_t i = 0; i < n_in; ++i) sum += row[i] * x[t * x_stride + i];
      y[t * y_stride + r] = sum;
    }
  }
}

// Rows of the KV cache may be floats or IEEE halves (kv_rows.h): element e as float.
inline float element(float e) { return e; }
inline float element(uint16_t e) { return f16_to_f32(e); }

// dot and axpy over float or IEEE-half rows (attention_head.h).
struct ScalarRows {
  template <typename Element>
  static float dot(const float* a, const Element* b, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += a[i] * element(b[i]);
    return sum;
  }
  template <typename Element>
  static void axpy(float a, const Element* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * element(x[i]);
  }
};

void attention_heads_scalar(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos,
                            int64_t head_dim, float scale, float* scores, float* out) {
  attention_heads_impl<ScalarRows>(q, n_heads, keys, values, n_pos, head_dim, scale, scores, out);
}

// Round to nearest even, like F16C's conversion.
void to_f16_scalar(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

float quantize_row_scalar(const float* x, int64_t n, int8_t* q) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0) {
    std::fill(q, q + n, int8_t{0});
    return 0;
  }
  // x * 127 / amax (not x * (127 / amax)): one rounding fewer, so exact ties stay ties.
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * 127.0f / amax));
  return amax / 127.0f;
}

}  // namespace

void silu_gate_scalar(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

const KernelTable& scalar_kernels() {
  static const KernelTable table{Isa::Scalar,
                                 TernaryLayout::BitPlanes,
                                 kMaxExactInputInt32,
                                 prepared_bytes_identity,
                                 prepare_identity,
                                 matmul_ternary_scalar,
                                 matmul_dense_scalar,
                                 ScalarRows::dot<float>,
                                 ScalarRows::axpy<float>,
                                 attention_heads_scalar,
                                 quantize_row_scalar,
                                 silu_gate_scalar,
                                 nullptr,
                                 to_f16_scalar};
  return table;
}

const KernelTable& kernel_table(Isa isa) {
  // Each architecture builds its own tables (CMakeLists.txt); another's never runs here
  // (isa_supported is false for it) and falls back to the reference.
  switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
#elif defined(__aarch64__)
    case Isa::Neon: return neon_kernels();
    case Isa::Dotprod: return dotprod_kernels();
    case Isa::I8mm: return i8mm_kernels();
#endif
    default: break;
  }
  return scalar_kernels();
}

}  // namespace tern
