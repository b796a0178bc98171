// The Q6_K product on AVX-512 (F, BW, VNNI); compiled with those flags and only called
// through the AVX-512 kernel table.
//
// Activations are quantized like llama.cpp's partner type for K-quants: int8 with one
// scale per 256 inputs. Per super-block the 256 6-bit codes q (0..63) are unpacked into
// four vectors of 64 unsigned bytes, and one VPDPBUSD per 64 weights and token adds 4
// code-activation products per 32-bit lane; 4 lanes make one 16-weight sub-block. The
// codes' offset of 32 comes off as 32 * the sum of the 4 activations of each lane
// (precomputed per token), each lane is multiplied by its sub-block's int8 scale, and
// the integer sums of a super-block become floats once, times d and the activation
// scale. Every integer sum is exact: at most 16 products of 32 * 127 per lane, times a
// scale of at most 128.
#include "kernels/q6k_avx512.h"

#include <immintrin.h>

#include <cstring>

#include "kernels/float16.h"
#include "kernels/quantized_tile.h"

namespace tern {
namespace {

constexpr int64_t kSuperBlock = 256;
constexpr int64_t kBlockBytes = 210;  // ql[128], qh[64], scales[16], f16 d

struct Q6KActivations {
  alignas(64) int8_t q[kMaxQ6KInput];            // round(x / scale)
  alignas(64) int32_t offset[kMaxQ6KInput / 4];  // 32 * the sum of each 4 consecutive q
  float scale[kMaxQ6KInput / kSuperBlock];       // max|x| / 127 per 256 inputs
};

void quantize_activations(const float* x, int64_t n_in, Q6KActivations& a) {
  for (int64_t b = 0; b < n_in / kSuperBlock; ++b) {
    const float* xb = x + b * kSuperBlock;
    __m512 amax = _mm512_setzero_ps();
    for (int i = 0; i < 16; ++i) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(xb + 16 * i)));
    const float m = _mm512_reduce_max_ps(amax);
    a.scale[b] = m / 127.0f;
    const __m512 inv = _mm512_set1_ps(m == 0 ? 0.0f : 127.0f / m);
    for (int i = 0; i < 16; ++i)
      _mm_store_si128(reinterpret_cast<__m128i*>(a.q + b * kSuperBlock + 16 * i),
                      _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16 * i), inv))));
  }
  const __m512i thirty_two = _mm512_set1_epi8(32);
  for (int64_t k = 0; k < n_in / 64; ++k)
    _mm512_store_si512(a.offset + 16 * k,
                       _mm512_dpbusd_epi32(_mm512_setzero_si512(), thirty_two, _mm512_load_si512(a.q + 64 * k)));
}

// The 256 codes of a super-block as 4 vectors of 64 bytes (weights 0-63, 64-127, ...).
// Per half of 128 weights: the low nibbles of its 64 ql bytes are weights 0-63, the high
// nibbles 64-127; the two top bits come from its 32 qh bytes, bits 0-1 / 2-3 / 4-5 / 6-7
// for weights 0-31 / 32-63 / 64-95 / 96-127 (shifted per 256-bit half, in 16-bit lanes:
// the masks keep only bits of the lane's own byte).
inline void unpack_codes(const uint8_t* block, __m512i codes[4]) {
  const __m512i low_shift = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  const __m512i high_shift = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
  const __m512i nibble = _mm512_set1_epi8(0x0F), two_bits = _mm512_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    const __m512i ql = _mm512_loadu_si512(block + 64 * h);
    const __m512i qh =
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 128 + 32 * h)));
    const __m512i top_low = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, low_shift), two_bits), 4);
    const __m512i top_high = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, high_shift), two_bits), 4);
    codes[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, nibble), top_low);
    codes[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), nibble), top_high);
  }
}

// Rows [r0, r1) against T tokens.
template <int T>
void q6k_rows(const uint8_t* data, int64_t n_in, const Q6KActivations* const (&a)[T], int64_t r0, int64_t r1, float* y,
              int64_t y_stride) {
  const int64_t blocks = n_in / kSuperBlock;
  const uint64_t stride = static_cast<uint64_t>(blocks) * kBlockBytes;
  // Lane l of the chunk of 64 weights c takes sub-block 4c + l / 4's scale.
  __m512i scale_index[4];
  for (int c = 0; c < 4; ++c)
    scale_index[c] =
        _mm512_add_epi32(_mm512_set1_epi32(4 * c),
                         _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + static_cast<uint64_t>(r) * stride;
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* block = row + b * kBlockBytes;
      __m512i codes[4];
      unpack_codes(block, codes);
      const __m512i scales = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192)));
      uint16_t d16;
      std::memcpy(&d16, block + 208, 2);
      const float d = f16_to_f32(d16);
      __m512i sums[T];
      for (int t = 0; t < T; ++t) sums[t] = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        const __m512i lane_scale = _mm512_permutexvar_epi32(scale_index[c], scales);
        const int64_t at = b * kSuperBlock + 64 * c;
        for (int t = 0; t < T; ++t) {
          __m512i dots = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes[c], _mm512_load_si512(a[t]->q + at));
          dots = _mm512_sub_epi32(dots, _mm512_load_si512(a[t]->offset + at / 4));
          sums[t] = _mm512_add_epi32(sums[t], _mm512_mullo_epi32(dots, lane_scale));
        }
      }
      for (int t = 0; t < T; ++t)
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]), _mm512_set1_ps(d * a[t]->scale[b]), acc[t]);
    }
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[t]);
  }
}

template <int T>
void q6k_tile(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t r0, int64_t r1, float* y,
              int64_t y_stride) {
  run_quantized_tile<T, Q6KActivations>(
      x, x_stride, [n_in](const float* xt, Q6KActivations& a) { quantize_activations(xt, n_in, a); },
      [&](const Q6KActivations* const(&tokens)[T]) { q6k_rows<T>(data, n_in, tokens, r0, r1, y, y_stride); });
}

}  // namespace

void matmul_q6k_avx512(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok,
                       int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  for_token_tiles<8, 4, 1>(n_tok, [&]<int T>(int64_t t) {
    q6k_tile<T>(data, n_in, x + t * x_stride, x_stride, row_begin, row_end, y + t * y_stride, y_stride);
  });
}

}  // namespace tern
