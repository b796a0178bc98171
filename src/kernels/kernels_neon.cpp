// ARM64 Advanced SIMD (NEON) kernels: the baseline every ARMv8-A CPU runs. The
// dotprod and i8mm tables (kernels_dotprod.cpp, kernels_i8mm.cpp) reuse this table's
// entries and replace the integer products.
//
// Ternary product (neon_ternary.h for the layout and the weight decoding): per plane, 16
// weights as int8 against 16 activations, SMLAL + SMLAL2 into eight int16 lanes; each
// lane gains at most 8 * 127 = 1016 per 64-weight chunk, so 32 chunks (32512) stay exact
// in int16 before the lanes are summed into int32 (SADDLV).
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/attention_head.h"
#include "kernels/dense_via_f32.h"
#include "kernels/dequantize.h"
#include "kernels/float16.h"
#include "kernels/kernels.h"
#include "kernels/neon_ternary.h"

namespace tern {
namespace {

// ------------------------------------------------------------------ ternary product

struct SmlalKernel {
  static constexpr int64_t kMaxChunks = 32;
  // R * T = 4 int16 accumulators: with 8 (2 x 4), GCC 12 spills inside the loop.
  template <int T>
  static constexpr int kRowsFor = T == 1   ? 4
                                  : T == 2 ? 2
                                           : 1;

  using Acc = int16x8_t;
  static Acc zero() { return vdupq_n_s16(0); }
  [[gnu::always_inline]] static Acc multiply_add(Acc acc, int8x16_t weights, int8x16_t a) {
    return vmlal_high_s8(vmlal_s8(acc, vget_low_s8(weights), vget_low_s8(a)), weights, a);
  }
  static int32_t total(Acc acc) { return vaddlvq_s16(acc); }

  template <int R, int T>
  [[gnu::always_inline]] static void add(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T], int64_t c0,
                                         int64_t c1, int32_t (&sums)[R][T]) {
    add_plane_products<SmlalKernel, R, T>(rows, acts, c0, c1, sums);
  }
};

// The activations as quantized (zero-padded to whole chunks) are already in plane order.
int64_t prepared_bytes_neon(int64_t n_in) { return padded_to_chunks(n_in); }
void prepare_ternary_neon(const int8_t* q, int64_t n_in, int8_t* out) {
  std::memmove(out, q, static_cast<size_t>(padded_to_chunks(n_in)));
}

void matmul_ternary_neon(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                         float* y, int64_t y_stride) {
  ternary_matmul<SmlalKernel>(w, x, row_begin, row_end, y, y_stride);
}

// ------------------------------------------------------------------ dense products

// Four weights of a float-like row as f32 from weight i (i % 4 == 0).
template <TensorType kType>
inline float32x4_t load4(const uint8_t* row, int64_t i) {
  if constexpr (kType == TensorType::F32) {
    return vld1q_f32(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (kType == TensorType::F16) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(row) + i)));
  } else if constexpr (kType == TensorType::BF16) {  // bf16 is the top half of an f32
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(row) + i), 16));
  } else {  // Q8_0: 34-byte blocks of an f16 scale and 32 int8
    const uint8_t* block = row + (i / 32) * 34;
    uint16_t d16;
    std::memcpy(&d16, block, 2);
    uint32_t four;
    std::memcpy(&four, block + 2 + i % 32, 4);
    const int16x4_t q16 = vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(four))));
    return vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(q16)), f16_to_f32(d16));
  }
}

// The last n_in % 4 weights (F32/F16/BF16; Q8_0 rows are whole blocks), zero-padded.
template <TensorType kType>
inline float32x4_t load_tail(const uint8_t* row, int64_t i, int64_t n_in) {
  float buf[4] = {};
  dequantize_row(kType, row + i * (kType == TensorType::F32 ? 4 : 2), buf, n_in - i);
  return vld1q_f32(buf);
}

inline float32x4_t load_tail_f32(const float* x, int64_t n) {
  float buf[4] = {};
  std::memcpy(buf, x, static_cast<size_t>(n) * sizeof(float));
  return vld1q_f32(buf);
}

// Rows [r0, r0 + R) against tokens [t0, t0 + T): each weight vector converted once,
// used for T tokens.
template <TensorType kType, int R, int T>
void dense_tile(const uint8_t* data, uint64_t stride, int64_t n_in, const float* x, int64_t x_stride, int64_t t0,
                int64_t r0, float* y, int64_t y_stride) {
  const uint8_t* rows[R];
  const float* xs[T];
  for (int r = 0; r < R; ++r) rows[r] = data + (r0 + r) * stride;
  for (int t = 0; t < T; ++t) xs[t] = x + (t0 + t) * x_stride;
  float32x4_t acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0);
  const int64_t vec_end = n_in / 4 * 4;
  for (int64_t i = 0; i < vec_end; i += 4) {
    float32x4_t wv[R];
    for (int r = 0; r < R; ++r) wv[r] = load4<kType>(rows[r], i);
    for (int t = 0; t < T; ++t) {
      const float32x4_t xv = vld1q_f32(xs[t] + i);
      for (int r = 0; r < R; ++r) acc[r][t] = vfmaq_f32(acc[r][t], wv[r], xv);
    }
  }
  if (vec_end < n_in)
    for (int r = 0; r < R; ++r) {
      const float32x4_t wv = load_tail<kType>(rows[r], vec_end, n_in);
      for (int t = 0; t < T; ++t) acc[r][t] = vfmaq_f32(acc[r][t], wv, load_tail_f32(xs[t] + vec_end, n_in - vec_end));
    }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r0 + r] = vaddvq_f32(acc[r][t]);
}

// Tokens in tiles of 4 over rows in pairs; leftover tokens one at a time over 4-row tiles.
template <TensorType kType>
void dense_rows(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok, int64_t row_begin,
                int64_t row_end, float* y, int64_t y_stride) {
  const uint64_t stride = row_bytes(kType, static_cast<uint64_t>(n_in));
  int64_t t = 0;
  for (; t + 4 <= n_tok; t += 4) {
    int64_t r = row_begin;
    for (; r + 2 <= row_end; r += 2) dense_tile<kType, 2, 4>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
    for (; r < row_end; ++r) dense_tile<kType, 1, 4>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
  }
  for (; t < n_tok; ++t) {
    int64_t r = row_begin;
    for (; r + 4 <= row_end; r += 4) dense_tile<kType, 4, 1>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
    for (; r < row_end; ++r) dense_tile<kType, 1, 1>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
  }
}

void matmul_dense_neon(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                       int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  switch (type) {
    case TensorType::F32:
      return dense_rows<TensorType::F32>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::F16:
      return dense_rows<TensorType::F16>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::BF16:
      return dense_rows<TensorType::BF16>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::Q8_0:
      return dense_rows<TensorType::Q8_0>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::Q4_0:
    case TensorType::Q6_K:
    case TensorType::Q4_K:
      return matmul_dense_via_f32(matmul_dense_neon, type, data, n_in, x, x_stride, n_tok, row_begin, row_end, y,
                                  y_stride);
    default:  // ternary types never reach the dense path; keep the reference behaviour
      return scalar_kernels().matmul_dense(type, data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
  }
}

// ------------------------------------------------------------------ vector helpers

// Four elements of a float or IEEE-half row (KV caches hold either), and the last n < 4.
inline float32x4_t load4(const float* p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t load_tail4(const float* p, int64_t n) { return load_tail_f32(p, n); }
inline float32x4_t load_tail4(const uint16_t* p, int64_t n) {
  uint16_t part[4] = {};
  std::memcpy(part, p, static_cast<size_t>(n) * sizeof(uint16_t));
  return load4(part);
}

inline float element(float e) { return e; }
inline float element(uint16_t e) { return f16_to_f32(e); }

// dot and axpy over float or IEEE-half rows (attention_head.h).
struct NeonRows {
  template <typename Element>
  static float dot(const float* a, const Element* b, int64_t n) {
    // Four independent chains, so the FMA latency overlaps.
    float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int k = 0; k < 4; ++k) acc[k] = vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), load4(b + i + 4 * k));
    for (; i + 4 <= n; i += 4) acc[0] = vfmaq_f32(acc[0], vld1q_f32(a + i), load4(b + i));
    if (i < n) acc[1] = vfmaq_f32(acc[1], load_tail_f32(a + i, n - i), load_tail4(b + i, n - i));
    return vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  }
  template <typename Element>
  static void axpy(float a, const Element* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load4(x + i), a));
    for (; i < n; ++i) y[i] += a * element(x[i]);
  }
};

void attention_heads_neon(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores, float* out) {
  attention_heads_impl<NeonRows>(q, n_heads, keys, values, n_pos, head_dim, scale, scores, out);
}

// Round to nearest even: FCVTN under the default rounding mode (FPCR.RMode = nearest),
// with IEEE subnormal halves (Linux leaves FPCR.FZ16 clear).
void to_f16_neon(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(out + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

// e^x for |x| <= 87 (clamped there: beyond, e^x is 0 or huge in practice):
// x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so n ln2 stays exact), e^r by
// its Taylor polynomial to r^7 (relative error below 1e-7), times 2^n built in the
// exponent bits (n in -126..126: a normal float).
inline float32x4_t exp_clamped(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.0f)), vdupq_n_f32(87.0f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
  r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187e-06f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040);
  for (const float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = vfmaq_f32(vdupq_n_f32(c), p, r);
  const int32x4_t two_n = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(p, vreinterpretq_f32_s32(two_n));
}

// gate = silu(gate) * up, silu(z) = z / (1 + e^-z); the last n % 4 through the scalar formula.
void silu_gate_neon(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t z = vld1q_f32(gate + i);
    const float32x4_t silu = vdivq_f32(z, vaddq_f32(vdupq_n_f32(1.0f), exp_clamped(vnegq_f32(z))));
    vst1q_f32(gate + i, vmulq_f32(silu, vld1q_f32(up + i)));
  }
  if (i < n) silu_gate_scalar(gate + i, up + i, n - i);
}

float quantize_row_neon(const float* x, int64_t n, int8_t* q) {
  float32x4_t vmax = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(x + i)));
  float amax = vmaxvq_f32(vmax);
  for (; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0) {
    std::memset(q, 0, static_cast<size_t>(n));
    return 0;
  }
  // (x * 127) / amax exactly as the scalar formula (mul, then div; never a reciprocal),
  // FCVTNS rounds to nearest even like std::nearbyint, so the bytes match.
  const float32x4_t vamax = vdupq_n_f32(amax);
  for (i = 0; i + 8 <= n; i += 8) {
    const int32x4_t lo = vcvtnq_s32_f32(vdivq_f32(vmulq_n_f32(vld1q_f32(x + i), 127.0f), vamax));
    const int32x4_t hi = vcvtnq_s32_f32(vdivq_f32(vmulq_n_f32(vld1q_f32(x + i + 4), 127.0f), vamax));
    // |v| <= 127: the narrowings are exact.
    vst1_s8(q + i, vmovn_s16(vcombine_s16(vmovn_s32(lo), vmovn_s32(hi))));
  }
  for (; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * 127.0f / amax));
  return amax / 127.0f;
}

}  // namespace

const KernelTable& neon_kernels() {
  static const KernelTable table{Isa::Neon,
                                 TernaryLayout::BitPlanes,
                                 kMaxExactInputInt32,
                                 prepared_bytes_neon,
                                 prepare_ternary_neon,
                                 matmul_ternary_neon,
                                 matmul_dense_neon,
                                 NeonRows::dot<float>,
                                 NeonRows::axpy<float>,
                                 attention_heads_neon,
                                 quantize_row_neon,
                                 silu_gate_neon,
                                 nullptr,
                                 to_f16_neon};
  return table;
}

}  // namespace tern
