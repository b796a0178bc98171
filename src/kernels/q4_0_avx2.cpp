// The Q4_0 product on AVX2 (with FMA and F16C); compiled with those flags and only called
// through the AVX2 kernel table.
//
// Activations are int8 per 32-input block with the Q8_0 kernel's scales
// (q8_activations_avx2.h). A block's 16 bytes of nibbles unpack to its 32 codes c (0..15)
// as unsigned bytes in weight order; VPMADDUBSW multiplies them by the signed activations
// and adds pairs into int16 (at most 2 * 15 * 127); the weights' offset 8 comes off as
// 8 * (a0 + a1) per pair, prepared with the activations (still within int16), and
// VPMADDWD adds pairs of pairs into int32. Integer sums are exact; each block's become
// floats once, times d and the activation scale. As in the other dense kernels, a tile of
// up to 8 tokens reads every weight block once.
#include "kernels/q4_0_avx2.h"

#include <immintrin.h>

#include <cstring>

#include "kernels/q8_activations_avx2.h"
#include "kernels/quantized_tile.h"

namespace tern {
namespace {

constexpr int64_t kBlock = 32;
constexpr int64_t kBlockBytes = 18;  // f16 d, 16 bytes of nibbles
static_assert(kMaxQ4_0Input == kMaxQ8Input);

struct Q4_0Activations {
  Q8Activations int8;                                  // q and scale per 32 inputs
  alignas(32) int16_t pair_offset[kMaxQ4_0Input / 2];  // 8 * (q[2k] + q[2k + 1])
};

void quantize_activations(const float* x, int64_t n_in, Q4_0Activations& a) {
  quantize_q8_activations(x, n_in, a.int8);
  const __m256i eight = _mm256_set1_epi8(8);
  for (int64_t i = 0; i < n_in; i += kBlock) {
    const __m256i q = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.int8.q + i));
    _mm256_store_si256(reinterpret_cast<__m256i*>(a.pair_offset + i / 2), _mm256_maddubs_epi16(eight, q));
  }
}

// The 32 codes of a block in weight order: low nibbles (weights 0..15) in the low
// 128-bit lane, high nibbles (16..31) in the high one.
inline __m256i block_codes(const uint8_t* block) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(packed), _mm_srli_epi16(packed, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// The block's d in lane 0: a 4-byte load (d and the first code byte, which the
// conversion ignores) goes straight into a vector register.
inline __m128 block_scale(const uint8_t* block) {
  int32_t head;
  std::memcpy(&head, block, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(head));
}

inline float sum_of_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Block b of one row against T tokens, into acc[t].
template <int T>
inline void q4_0_block(const uint8_t* block, int64_t b, const Q4_0Activations* const (&a)[T], __m256 (&acc)[T]) {
  const __m256i codes = block_codes(block);
  const __m128 d = block_scale(block);
  for (int t = 0; t < T; ++t) {
    const __m256i act = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[t]->int8.q + b * kBlock));
    const __m256i offset = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[t]->pair_offset + b * kBlock / 2));
    const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(codes, act), offset);
    const __m256 sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    const __m256 scale = _mm256_broadcastss_ps(_mm_mul_ss(d, _mm_load_ss(a[t]->int8.scale + b)));
    acc[t] = _mm256_fmadd_ps(sums, scale, acc[t]);
  }
}

// Rows [r0, r1) against T tokens, one row at a time (one sequential stream of weights:
// measured faster at n_in 960 than 2 or 4 rows side by side). Each weight block is loaded
// once for all T tokens. With fewer than 4 tokens, consecutive blocks go to kChains
// accumulators per token: one chain would wait on the FMA latency every block, longer
// than a block takes to arrive from memory.
template <int T>
void q4_0_rows(const uint8_t* data, int64_t n_in, const Q4_0Activations* const (&a)[T], int64_t r0, int64_t r1,
               float* y, int64_t y_stride) {
  constexpr int kChains = T >= 4 ? 1 : 4 / T;
  const int64_t blocks = n_in / kBlock;
  const uint64_t stride = static_cast<uint64_t>(blocks) * kBlockBytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + static_cast<uint64_t>(r) * stride;
    __m256 acc[kChains][T];
    for (auto& chain : acc)
      for (auto& token : chain) token = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + kChains <= blocks; b += kChains)
      for (int c = 0; c < kChains; ++c) q4_0_block<T>(row + (b + c) * kBlockBytes, b + c, a, acc[c]);
    for (; b < blocks; ++b) q4_0_block<T>(row + b * kBlockBytes, b, a, acc[0]);
    for (int t = 0; t < T; ++t) {
      __m256 total = acc[0][t];
      for (int c = 1; c < kChains; ++c) total = _mm256_add_ps(total, acc[c][t]);
      y[t * y_stride + r] = sum_of_lanes(total);
    }
  }
}

template <int T>
void q4_0_tile(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t r0, int64_t r1, float* y,
               int64_t y_stride) {
  run_quantized_tile<T, Q4_0Activations>(
      x, x_stride, [n_in](const float* xt, Q4_0Activations& a) { quantize_activations(xt, n_in, a); },
      [&](const Q4_0Activations* const(&tokens)[T]) { q4_0_rows<T>(data, n_in, tokens, r0, r1, y, y_stride); });
}

}  // namespace

void matmul_q4_0_avx2(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok,
                      int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  for_token_tiles<8, 4, 2, 1>(n_tok, [&]<int T>(int64_t t) {
    q4_0_tile<T>(data, n_in, x + t * x_stride, x_stride, row_begin, row_end, y + t * y_stride, y_stride);
  });
}

}  // namespace tern
