// ARM64 kernels with the dot-product extension (ARMv8.2-A+, FEAT_DotProd: SDOT/UDOT),
// compiled with -march=armv8.2-a+dotprod and chosen only when HWCAP_ASIMDDP is set.
// The NEON table's entries, with two integer products replaced:
//  - ternary: per plane, one SDOT adds 16 int8 weights (-1, 0, +1, neon_ternary.h)
//    times 16 activations into four int32 lanes, no narrow accumulator to flush;
//  - Q8_0 rows (the LM head): activations rounded to int8 per 32-block, two SDOTs per
//    block and row, as the x86 kernels do (within the int8 activation bound).
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/dequantize.h"
#include "kernels/float16.h"
#include "kernels/kernels.h"
#include "kernels/neon_ternary.h"

namespace tern {
namespace {

struct SdotKernel {
  // int32 lanes gain at most 16 * 127 per chunk: any row tern accepts stays exact.
  static constexpr int64_t kMaxChunks = int64_t{1} << 24;
  // R * T int32 accumulators next to R codes and R decoded weight vectors.
  template <int T>
  static constexpr int kRowsFor = T == 1 ? 8 : 4;

  using Acc = int32x4_t;
  static Acc zero() { return vdupq_n_s32(0); }
  [[gnu::always_inline]] static Acc multiply_add(Acc acc, int8x16_t weights, int8x16_t a) {
    return vdotq_s32(acc, weights, a);
  }
  static int32_t total(Acc acc) { return vaddvq_s32(acc); }

  template <int R, int T>
  [[gnu::always_inline]] static void add(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T], int64_t c0,
                                         int64_t c1, int32_t (&sums)[R][T]) {
    add_plane_products<SdotKernel, R, T>(rows, acts, c0, c1, sums);
  }
};

void matmul_ternary_dotprod(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                            float* y, int64_t y_stride) {
  ternary_matmul<SdotKernel>(w, x, row_begin, row_end, y, y_stride);
}

// ------------------------------------------------------------------ Q8_0 rows

// Activations rounded to int8 per Q8_0 block (32 inputs), scale d = max|x| / 127 per
// block: x ~= q * d. The rounding costs about 0.4% relative precision of the logits.
constexpr int64_t kMaxQ8Input = 8192;

struct Q8Activations {
  alignas(16) int8_t q[kMaxQ8Input];
  float scale[kMaxQ8Input / 32];
};

void quantize_q8_activations(const float* x, int64_t n_in, Q8Activations& a) {
  for (int64_t b = 0; b < n_in / 32; ++b) {
    float32x4_t v[8], vmax = vdupq_n_f32(0);
    for (int i = 0; i < 8; ++i) {
      v[i] = vld1q_f32(x + 32 * b + 4 * i);
      vmax = vmaxq_f32(vmax, vabsq_f32(v[i]));
    }
    const float amax = vmaxvq_f32(vmax);
    a.scale[b] = amax / 127.0f;
    const float inv = amax == 0 ? 0.0f : 127.0f / amax;
    for (int i = 0; i < 8; i += 2) {
      const int32x4_t lo = vcvtnq_s32_f32(vmulq_n_f32(v[i], inv)), hi = vcvtnq_s32_f32(vmulq_n_f32(v[i + 1], inv));
      vst1_s8(a.q + 32 * b + 4 * i, vmovn_s16(vcombine_s16(vmovn_s32(lo), vmovn_s32(hi))));  // |v| <= 127: exact
    }
  }
}

void q8_rows(const uint8_t* data, uint64_t stride, int64_t n_in, const Q8Activations& a, int64_t r0, int64_t r1,
             float* y) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + r * stride;
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t b = 0; b < n_in / 32; ++b) {
      const uint8_t* block = row + b * 34;
      int32x4_t products =
          vdotq_s32(vdupq_n_s32(0), vld1q_s8(reinterpret_cast<const int8_t*>(block + 2)), vld1q_s8(a.q + 32 * b));
      products =
          vdotq_s32(products, vld1q_s8(reinterpret_cast<const int8_t*>(block + 18)), vld1q_s8(a.q + 32 * b + 16));
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      acc = vfmaq_n_f32(acc, vcvtq_f32_s32(products), f16_to_f32(d16) * a.scale[b]);
    }
    y[r] = vaddvq_f32(acc);
  }
}

void matmul_dense_dotprod(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                          int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  if (type != TensorType::Q8_0 || n_in > kMaxQ8Input)
    return neon_kernels().matmul_dense(type, data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
  Q8Activations a;
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  for (int64_t t = 0; t < n_tok; ++t) {
    quantize_q8_activations(x + t * x_stride, n_in, a);
    q8_rows(data, stride, n_in, a, row_begin, row_end, y + t * y_stride);
  }
}

}  // namespace

const KernelTable& dotprod_kernels() {
  static const KernelTable table = [] {
    KernelTable t = neon_kernels();
    t.isa = Isa::Dotprod;
    t.matmul_ternary = matmul_ternary_dotprod;
    t.matmul_dense = matmul_dense_dotprod;
    return t;
  }();
  return table;
}

}  // namespace tern
