// Int8 activations per 32-input block for the AVX2 Q8_0 and Q4_0 products; compiled with
// the AVX2 flags and only called through the AVX2 kernel table.
#include "kernels/q8_activations_avx2.h"

#include <immintrin.h>

namespace tern {
namespace {

// The largest of the 8 lanes.
inline float max_of_lanes(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

}  // namespace

void quantize_q8_activations(const float* x, int64_t n_in, Q8Activations& a) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n_in / 32; ++b) {
    __m256 v[4], vmax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 32 * b + 8 * i);
      vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, v[i]));
    }
    const float amax = max_of_lanes(vmax);
    a.scale[b] = amax / 127.0f;
    const __m256 inv = _mm256_set1_ps(amax == 0 ? 0.0f : 127.0f / amax);
    __m256i i32[4];
    for (int i = 0; i < 4; ++i) i32[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv));
    // Pack 32-bit lanes to bytes; packs interleave 128-bit lanes, the permute restores order.
    const __m256i i16 = _mm256_packs_epi32(i32[0], i32[1]), j16 = _mm256_packs_epi32(i32[2], i32[3]);
    const __m256i i8 =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(i16, j16), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_store_si256(reinterpret_cast<__m256i*>(a.q + 32 * b), i8);
    _mm256_store_si256(reinterpret_cast<__m256i*>(a.magnitude + 32 * b), _mm256_abs_epi8(i8));
  }
}

}  // namespace tern
