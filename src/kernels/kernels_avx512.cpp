// AVX-512 kernels (F, BW, VL, DQ, VNNI, VBMI) with GFNI. Compiled with those flags; only called
// when the CPU reports them (see cpu_features.cpp).
//
// Ternary product: each 64-byte load of a row's codes covers 256 weights; for each of
// the four bit-plane pairs, one test gives the "add" mask and one the "subtract" mask,
// a masked move selects +q or -q (no multiplication by a weight), and VPDPBUSD against
// a vector of ones sums the selected bytes into int32 lanes.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/dequantize.h"
#include "kernels/attention_head.h"
#include "kernels/kernels.h"

namespace tern {
namespace {

constexpr int64_t kSuper = 256;  // weights per 64-byte load (four 64-weight chunks)

// Activation order for one 64-byte code load: for chunk c (of nc) and plane p, byte j
// of the chunks' codes pairs with weight 64c + 16p + j; the kernel reads plane p of all
// nc chunks as one contiguous run, so put them there.
void prepare_ternary_avx512(const int8_t* q, int64_t n, int8_t* out_q) {
  for (int64_t base = 0; base < n; base += kSuper) {
    const int64_t nc = std::min<int64_t>(4, (n - base) / 64);
    for (int64_t c = 0; c < nc; ++c)
      for (int64_t p = 0; p < 4; ++p)
        std::memcpy(out_q + base + p * nc * 16 + c * 16, q + base + c * 64 + p * 16, 16);
  }
}

// Byte masks of one bit plane: GF2P8AFFINEQB with every matrix row equal to that bit
// copies the bit into all eight bits of each byte: 0xFF where the weight has it, else 0.
// (Bitwise work only: no mask registers, whose ports would be the bottleneck.)
inline __m512i plane_mask(__m512i codes, int bit) {
  return _mm512_gf2p8affine_epi64_epi8(codes, _mm512_set1_epi64(static_cast<long long>(0x0101010101010101ULL << bit)), 0);
}

// (q & add) | (~q & sub): q where the weight is +1, its bitwise complement ~q = -q - 1
// where it is -1, 0 elsewhere, in one VPTERNLOG (bitwise selection, no arithmetic on the
// weight). Summing ~q instead of -q undercounts by one per -1 weight; the row's
// minus_counts adds that back, so the integer sums stay exact.
inline __m512i select_signed(__m512i q, __m512i add, __m512i sub) {
  // Truth table over (a = q, b = add, c = sub): a&b | ~a&c.
  return _mm512_ternarylogic_epi64(q, add, sub, 0xCA);
}

// Sums of R rows against T tokens over one span of `bytes` code bytes (<= 64) at code
// byte offset `at` (activation offset 4 * at). Each token's +q and -q of a bit plane are
// loaded once for all R rows; per row the plane's add and subtract byte masks select +q,
// -q or 0 (no multiplication by a weight), and VPDPBUSD against ones sums the bytes into
// int32 lanes. Everything is unrolled so the R x T accumulators stay in registers.
template <int R, int T>
__attribute__((always_inline)) inline void accumulate_span(const uint8_t* const (&rows)[R],
                                                           const int8_t* const (&plus)[T],
                                                           int64_t at,
                                                           int64_t bytes, __m512i (&acc)[R][T]) {
  const __mmask64 load_mask = bytes == 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
  const __m512i ones = _mm512_set1_epi8(1);
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p) {
    const int64_t offset = 4 * at + p * bytes;
    __m512i q[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) q[t] = _mm512_maskz_loadu_epi8(load_mask, plus[t] + offset);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512i codes = _mm512_maskz_loadu_epi8(load_mask, rows[r] + at);
      const __m512i add = plane_mask(codes, 2 * p);
      const __m512i sub = plane_mask(codes, 2 * p + 1);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m512i v = select_signed(q[t], add, sub);
        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], ones, v);
      }
    }
  }
}

// A 64-weight tail (rows of 576 = 2 x 256 + 64, MobileLLM-125M's width) would use a
// quarter of a vector; instead the tails of 4 rows share one: row i's 16 code bytes in
// 128-bit lane i, each token's activations broadcast to all four lanes.
template <int T>
__attribute__((always_inline)) inline void packed_tail_sums(const uint8_t* const (&rows)[4],
                                                            const int8_t* const (&plus)[T],
                                                            int64_t at,
                                                            int32_t (&sums)[4][T]) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i codes = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[0] + at)));
  codes = _mm512_inserti32x4(codes, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[1] + at)), 1);
  codes = _mm512_inserti32x4(codes, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2] + at)), 2);
  codes = _mm512_inserti32x4(codes, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[3] + at)), 3);
  __m512i acc[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p) {
    const __m512i add = plane_mask(codes, 2 * p);
    const __m512i sub = plane_mask(codes, 2 * p + 1);
    const int64_t offset = 4 * at + p * 16;
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512i q = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(plus[t] + offset)));
      const __m512i v = select_signed(q, add, sub);
      acc[t] = _mm512_dpbusd_epi32(acc[t], ones, v);
    }
  }
  for (int t = 0; t < T; ++t) {
    alignas(64) int32_t lanes[16];
    _mm512_store_si512(lanes, acc[t]);
    for (int r = 0; r < 4; ++r) sums[r][t] = lanes[4 * r] + lanes[4 * r + 1] + lanes[4 * r + 2] + lanes[4 * r + 3];
  }
}

// The 16 int32 lanes of each accumulator summed. Four rows at a time share one
// reduction tree (halving widths, then two rounds of pairwise adds), which costs about
// half of four separate full reductions.
inline __m128i narrow_to_128(__m512i v) {
  const __m256i half = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
}

template <int R, int T>
inline void row_totals(__m512i (&acc)[R][T], int32_t (&totals)[R][T]) {
  if constexpr (R == 4) {
    for (int t = 0; t < T; ++t) {
      const __m128i ab = _mm_hadd_epi32(narrow_to_128(acc[0][t]), narrow_to_128(acc[1][t]));
      const __m128i cd = _mm_hadd_epi32(narrow_to_128(acc[2][t]), narrow_to_128(acc[3][t]));
      alignas(16) int32_t four[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(four), _mm_hadd_epi32(ab, cd));
      for (int r = 0; r < 4; ++r) totals[r][t] = four[r];
    }
  } else {
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) totals[r][t] = _mm512_reduce_add_epi32(acc[r][t]);
  }
}

template <int R, int T>
void ternary_tile(const TernaryMatrix& w, const PreparedActivations& x, int64_t r0, int64_t t0, float* y,
                  int64_t y_stride) {
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w.codes.data() + (r0 + r) * w.row_stride;
  const int8_t* plus[T];
  for (int t = 0; t < T; ++t) {
    plus[t] = x.q + (t0 + t) * x.stride;
  }
  __m512i acc[R][T];
  float sums[R][T] = {};
#pragma GCC unroll 16
  for (int i = 0; i < R * T; ++i) acc[i / T][i % T] = _mm512_setzero_si512();
  const bool per_block = w.group != w.n_in;  // TQ files: one scale per 256 weights
  const int64_t groups = w.groups_per_row();
  const int64_t full = w.n_in_padded / kSuper;
  for (int64_t s = 0; s < full; ++s) {
    accumulate_span<R, T>(rows, plus, s * 64, 64, acc);
    if (!per_block) continue;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const int64_t g = (r0 + r) * groups + s;
        sums[r][t] += w.scales[g] * static_cast<float>(_mm512_reduce_add_epi32(acc[r][t]) + w.minus_counts[g]);
        acc[r][t] = _mm512_setzero_si512();
      }
  }
  const int64_t tail_bytes = (w.n_in_padded % kSuper) / 4;
  int32_t tail_sums[R][T] = {};
  bool tail_done = false;
  if constexpr (R == 4) {
    if (tail_bytes == 16) {
      packed_tail_sums<T>(rows, plus, full * 64, tail_sums);
      tail_done = true;
    }
  }
  if (tail_bytes > 0 && !tail_done) accumulate_span<R, T>(rows, plus, full * 64, tail_bytes, acc);
  int32_t totals[R][T];
  if (!per_block) row_totals<R, T>(acc, totals);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      if (!per_block)
        sums[r][t] = w.scales[(r0 + r) * groups] *
                     static_cast<float>(totals[r][t] + tail_sums[r][t] + w.minus_counts[(r0 + r) * groups]);
      y[(t0 + t) * y_stride + r0 + r] = sums[r][t] * x.scale[t0 + t];
    }
}

template <int R>
void ternary_rows(const TernaryMatrix& w, const PreparedActivations& x, int64_t r0, float* y, int64_t y_stride) {
  int64_t t = 0;
  for (; t + 4 <= x.n_tok; t += 4) ternary_tile<R, 4>(w, x, r0, t, y, y_stride);
  switch (x.n_tok - t) {
    case 3: ternary_tile<R, 3>(w, x, r0, t, y, y_stride); break;
    case 2: ternary_tile<R, 2>(w, x, r0, t, y, y_stride); break;
    case 1: ternary_tile<R, 1>(w, x, r0, t, y, y_stride); break;
    default: break;
  }
}

void matmul_ternary_avx512(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                           float* y, int64_t y_stride) {
  int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) ternary_rows<4>(w, x, r, y, y_stride);
  for (; r < row_end; ++r) ternary_rows<1>(w, x, r, y, y_stride);
}

// 16 weights of a float-like row as f32, starting at weight i (i % 16 == 0; Q8_0 blocks
// are 32 weights, so a 16-weight half block reads its block's scale).
inline __m512 load16(TensorType type, const uint8_t* row, int64_t i) {
  switch (type) {
    case TensorType::F32: return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
    case TensorType::F16: return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
    case TensorType::BF16: {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    default: {  // Q8_0
      const uint8_t* block = row + (i / 32) * 34;
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(d16));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + i % 32));
      return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
    }
  }
}

template <int T>
void dense_rows(TensorType type, const uint8_t* data, uint64_t stride, int64_t n_in, const float* x, int64_t x_stride,
                int64_t t0, int64_t r0, int64_t r1, float* y, int64_t y_stride) {
  const int64_t vec_end = n_in / 16 * 16;
  std::vector<float> tail_row;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + r * stride;
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < vec_end; i += 16) {
      const __m512 wv = load16(type, row, i);
      for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + (t0 + t) * x_stride + i), acc[t]);
    }
    if (vec_end < n_in) {  // rows not a multiple of 16 (F32/F16/BF16 only)
      tail_row.resize(static_cast<size_t>(n_in));
      dequantize_row(type, row, tail_row.data(), n_in);
      const __mmask16 m = static_cast<__mmask16>((1u << (n_in - vec_end)) - 1);
      const __m512 wv = _mm512_maskz_loadu_ps(m, tail_row.data() + vec_end);
      for (int t = 0; t < T; ++t)
        acc[t] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x + (t0 + t) * x_stride + vec_end), acc[t]);
    }
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r] = _mm512_reduce_add_ps(acc[t]);
  }
}

// Q8_0 rows against activations quantized the same way (int8 per 32-block with an f32
// scale): the int8 products run on VPDPBUSD, which wants unsigned x signed bytes, so the
// activation's sign moves onto the weight (a masked negate) and |x| is the unsigned side.
// Faster than dequantizing 32000 rows of an LM head; the activation rounding costs
// about 0.4% relative precision, within the stated tolerance of the logits.
constexpr int64_t kMaxQ8Input = 8192;

struct Q8Activations {
  alignas(64) uint8_t magnitude[kMaxQ8Input];  // |round(x / d)|
  uint32_t negative[kMaxQ8Input / 32];         // sign bits per block
  float scale[kMaxQ8Input / 32];               // d = max|x| / 127 per block
};

void quantize_q8_activations(const float* x, int64_t n_in, Q8Activations& a) {
  for (int64_t b = 0; b < n_in / 32; ++b) {
    const __m512 lo = _mm512_loadu_ps(x + 32 * b), hi = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = std::max(_mm512_reduce_max_ps(_mm512_abs_ps(lo)), _mm512_reduce_max_ps(_mm512_abs_ps(hi)));
    a.scale[b] = amax / 127.0f;
    const __m512 inv = _mm512_set1_ps(amax == 0 ? 0.0f : 127.0f / amax);
    const __m128i qlo = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)));
    const __m128i qhi = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, inv)));
    const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(qlo), qhi, 1);
    a.negative[b] = _mm256_movemask_epi8(q);
    _mm256_store_si256(reinterpret_cast<__m256i*>(a.magnitude + 32 * b), _mm256_abs_epi8(q));
  }
}

void q8_rows(const uint8_t* data, uint64_t stride, int64_t n_in, const Q8Activations& a, int64_t r0, int64_t r1,
             float* y) {
  const int64_t blocks = n_in / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + r * stride;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* block = row + b * 34;
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
      const __m256i signed_w = _mm256_mask_sub_epi8(w, a.negative[b], _mm256_setzero_si256(), w);
      const __m256i magnitude = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.magnitude + 32 * b));
      const __m256i products = _mm256_dpbusd_epi32(_mm256_setzero_si256(), magnitude, signed_w);
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      const __m256 scale = _mm256_set1_ps(_cvtsh_ss(d16) * a.scale[b]);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc);
    }
    const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    y[r] = _mm_cvtss_f32(_mm_add_ss(sum2, _mm_movehdup_ps(sum2)));
  }
}

void matmul_dense_avx512(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                         int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  if (type == TensorType::Q8_0 && n_in <= kMaxQ8Input) {
    Q8Activations a;
    for (int64_t t = 0; t < n_tok; ++t) {
      quantize_q8_activations(x + t * x_stride, n_in, a);
      q8_rows(data, stride, n_in, a, row_begin, row_end, y + t * y_stride);
    }
    return;
  }
  int64_t t = 0;
  for (; t + 4 <= n_tok; t += 4) dense_rows<4>(type, data, stride, n_in, x, x_stride, t, row_begin, row_end, y, y_stride);
  for (; t < n_tok; ++t) dense_rows<1>(type, data, stride, n_in, x, x_stride, t, row_begin, row_end, y, y_stride);
}

float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void axpy_avx512(float a, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void attention_head_avx512(const float* q, const float* keys, const float* values, int64_t stride, int64_t n_pos,
                         int64_t head_dim, float scale, float* scores, float* out) {
  attention_head_impl(dot_avx512, axpy_avx512, q, keys, values, stride, n_pos, head_dim, scale, scores, out);
}

float quantize_row_avx512(const float* x, int64_t n, int8_t* q) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 vmax = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_andnot_ps(sign, _mm512_loadu_ps(x + i)));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  if (i < n) vmax = _mm512_max_ps(vmax, _mm512_andnot_ps(sign, _mm512_maskz_loadu_ps(tail, x + i)));
  const float amax = _mm512_reduce_max_ps(vmax);
  if (amax == 0) {
    std::memset(q, 0, static_cast<size_t>(n));
    return 0;
  }
  // (x * 127) / amax, rounded to nearest even by the conversion: the scalar formula.
  const __m512 k127 = _mm512_set1_ps(127.0f), vamax = _mm512_set1_ps(amax);
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_div_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), k127), vamax);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  if (i < n) {
    const __m512 v = _mm512_div_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + i), k127), vamax);
    _mm_mask_storeu_epi8(q + i, tail, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  return amax / 127.0f;
}

}  // namespace

const KernelTable& avx512_kernels() {
  static const KernelTable table{Isa::Avx512, prepare_ternary_avx512, matmul_ternary_avx512, matmul_dense_avx512,
                                 dot_avx512,  axpy_avx512, attention_head_avx512,            quantize_row_avx512};
  return table;
}

}  // namespace tern
