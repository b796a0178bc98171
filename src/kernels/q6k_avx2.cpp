// The Q6_K product on AVX2 (with FMA); compiled with those flags and only called through
// the AVX2 kernel table.
//
// As on AVX-512 (q6k_avx512.cpp), activations are int8 with one scale per 256 inputs and
// the codes q (0..63) are unpacked to unsigned bytes, 32 weights per vector. VPMADDUBSW
// multiplies codes by activations and adds pairs into int16 (at most 2 * 63 * 127); the
// pair's offset 32 * (a0 + a1) comes off (still within int16), and VPMADDWD with the
// sub-block's scale adds two pairs into an int32 lane. Integer sums are exact; each
// super-block's become floats once, times d and the activation scale.
#include "kernels/q6k_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/float16.h"
#include "kernels/quantized_tile.h"

namespace tern {
namespace {

constexpr int64_t kSuperBlock = 256;
constexpr int64_t kBlockBytes = 210;  // ql[128], qh[64], scales[16], f16 d

struct Q6KActivations {
  alignas(32) int8_t q[kMaxQ6KInput];                 // round(x / scale)
  alignas(32) int16_t pair_offset[kMaxQ6KInput / 2];  // 32 * (q[2k] + q[2k + 1])
  float scale[kMaxQ6KInput / kSuperBlock];            // max|x| / 127 per 256 inputs
};

void quantize_activations(const float* x, int64_t n_in, Q6KActivations& a) {
  for (int64_t b = 0; b < n_in / kSuperBlock; ++b) {
    const float* xb = x + b * kSuperBlock;
    float amax = 0;
    for (int64_t i = 0; i < kSuperBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
    a.scale[b] = amax / 127.0f;
    const __m256 inv = _mm256_set1_ps(amax == 0 ? 0.0f : 127.0f / amax);
    for (int64_t i = 0; i < kSuperBlock; i += 8) {
      // Round to nearest even like the other int8 activation paths; |x * inv| <= 127.
      const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + i), inv));
      alignas(32) int32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
      for (int k = 0; k < 8; ++k) a.q[b * kSuperBlock + i + k] = static_cast<int8_t>(lanes[k]);
    }
  }
  for (int64_t k = 0; k < n_in / 2; ++k) a.pair_offset[k] = static_cast<int16_t>(32 * (a.q[2 * k] + a.q[2 * k + 1]));
}

// The 32 codes of weights [32 c, 32 c + 32) of a half of 128 (c = 0..3): low or high
// nibbles of ql bytes 0-31 (c = 0, 2) or 32-63 (c = 1, 3), top bits 2c, 2c+1 of qh.
// Shifts run on 16-bit lanes; the masks keep only bits of each lane's own byte.
inline __m256i half_codes(const uint8_t* ql, const uint8_t* qh, int c) {
  const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32 * (c % 2)));
  const __m256i top = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
  const __m256i nibble = _mm256_set1_epi8(0x0F), two_bits = _mm256_set1_epi8(0x03);
  const __m256i lo4 = c < 2 ? _mm256_and_si256(low, nibble) : _mm256_and_si256(_mm256_srli_epi16(low, 4), nibble);
  const __m256i hi2 = _mm256_and_si256(_mm256_srl_epi16(top, _mm_cvtsi32_si128(2 * c)), two_bits);
  return _mm256_or_si256(lo4, _mm256_slli_epi16(hi2, 4));
}

template <int T>
void q6k_rows(const uint8_t* data, int64_t n_in, const Q6KActivations* const (&a)[T], int64_t r0, int64_t r1, float* y,
              int64_t y_stride) {
  const int64_t blocks = n_in / kSuperBlock;
  const uint64_t stride = static_cast<uint64_t>(blocks) * kBlockBytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + static_cast<uint64_t>(r) * stride;
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* block = row + b * kBlockBytes;
      const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
      uint16_t d16;
      std::memcpy(&d16, block + 208, 2);
      const float d = f16_to_f32(d16);
      __m256i sums[T];
      for (int t = 0; t < T; ++t) sums[t] = _mm256_setzero_si256();
      for (int chunk = 0; chunk < 8; ++chunk) {  // 32 weights: sub-blocks 2 chunk, 2 chunk + 1
        const int h = chunk / 4, c = chunk % 4;
        const __m256i codes = half_codes(block + 64 * h, block + 128 + 32 * h, c);
        const __m256i scale =
            _mm256_setr_m128i(_mm_set1_epi16(scales[2 * chunk]), _mm_set1_epi16(scales[2 * chunk + 1]));
        const int64_t at = b * kSuperBlock + 32 * chunk;
        for (int t = 0; t < T; ++t) {
          const __m256i act = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[t]->q + at));
          const __m256i offset = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[t]->pair_offset + at / 2));
          const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(codes, act), offset);
          sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(pairs, scale));
        }
      }
      for (int t = 0; t < T; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_set1_ps(d * a[t]->scale[b]), acc[t]);
    }
    for (int t = 0; t < T; ++t) {
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      y[t * y_stride + r] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
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

void matmul_q6k_avx2(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok,
                     int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  for_token_tiles<4, 1>(n_tok, [&]<int T>(int64_t t) {
    q6k_tile<T>(data, n_in, x + t * x_stride, x_stride, row_begin, row_end, y + t * y_stride, y_stride);
  });
}

}  // namespace tern
