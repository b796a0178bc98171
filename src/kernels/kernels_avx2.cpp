// AVX2 kernels (with FMA and F16C). Compiled with those flags; only called when the
// CPU reports them (see cpu_features.cpp). No AVX-512 here.
//
// Ternary product (OffsetCodes layout, ternary_matrix.h): a 32-byte load of a row's
// codes covers two 64-weight chunks = 128 weights (one "step"). For bit-plane p, a shift
// and a mask give each weight + 1 (0, 1 or 2) as an unsigned byte, and VPMADDUBSW
// multiplies those by the signed int8 activations and adds byte pairs into int16 lanes:
// one instruction per 32 weights and token, the weights never leave {0, 1, 2}. The +1
// is taken back out once per scale group: the integer sum is sum((w + 1) a) - sum(a),
// the activations' sum per 256-weight block coming with the prepared activations. Int16
// sums run over a bounded number of steps before being widened to int32 (see
// kMaxStepsInt16). From 8 tokens on, rows are decoded to bytes once per call instead
// ("decoded rows" below).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention_head.h"
#include "kernels/dense_via_f32.h"
#include "kernels/dequantize.h"
#include "kernels/float16.h"
#include "kernels/kernels.h"
#include "kernels/q4_0_avx2.h"
#include "kernels/q6k_avx2.h"
#include "kernels/q8_activations_avx2.h"

namespace tern {
namespace {

// ------------------------------------------------------------------ ternary layout

constexpr int64_t kStepWeights = 128;  // weights per 32-byte code load (two chunks)
constexpr int64_t kStepBytes = 32;
// Per step, one int16 lane gains at most 4 planes * 2 products * 2 * 127 = 2032 in
// magnitude; 15 steps plus a trailing half step (15.5 * 2032 = 31496) stay below 32767
// before the sums are widened to int32.
constexpr int64_t kMaxStepsInt16 = 15;
// The activation sums that undo the weights' +1 cover 256-weight blocks (the TQ scale
// group; a whole-row group adds its blocks).
constexpr int64_t kSumBlock = 256;
static_assert(kSumBlock == kTernaryBlock, "a TQ scale group must be one activation-sum block");

int64_t sum_blocks(int64_t n_in) { return (padded_to_chunks(n_in) + kSumBlock - 1) / kSumBlock; }

// Prepared activations: the reordered bytes (below), then one int32 sum per 256-weight
// block and the sum of them all (a whole-row group's), padded to 64 bytes.
//
// Activation order for one step (128 weights at `base`): the kernel pairs byte j of the
// 32 code bytes (chunk j / 16, byte j % 16) with weight 64 * (j / 16) + 16p + j % 16
// for plane p, so plane p of both chunks goes to one contiguous 32-byte run:
//   out[base + 32p + 16c + j] = q[base + 64c + 16p + j]
// A trailing odd chunk (n_in_padded / 64 odd) keeps the natural order, which already
// puts plane p at 16p. Loads all four inputs before storing, so in place works too.
int64_t prepared_bytes_avx2(int64_t n_in) {
  return padded_to_chunks(n_in) + ((sum_blocks(n_in) + 1) * 4 + 63) / 64 * 64;
}

const int32_t* activation_sums(const int8_t* prepared, int64_t n_in_padded) {
  return reinterpret_cast<const int32_t*>(prepared + n_in_padded);
}

void prepare_ternary_avx2(const int8_t* q, int64_t n_in, int8_t* out_q) {
  const int64_t n = padded_to_chunks(n_in);
  // Block sums first (the reorder below may run in place): bytes paired by VPMADDUBSW
  // against ones, then widened to int32.
  auto* sums = reinterpret_cast<int32_t*>(out_q + n);
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < sum_blocks(n_in); ++b) {
    __m256i acc = _mm256_setzero_si256();
    for (int64_t i = b * kSumBlock; i < std::min(n, (b + 1) * kSumBlock); i += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v), ones16));
    }
    const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    const __m128i s2 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    sums[b] = _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1)));
  }
  int32_t total = 0;
  for (int64_t b = 0; b < sum_blocks(n_in); ++b) total += sums[b];
  sums[sum_blocks(n_in)] = total;
  int64_t base = 0;
  for (; base + kStepWeights <= n; base += kStepWeights) {
    const auto* in = reinterpret_cast<const __m256i*>(q + base);
    const __m256i c0_p01 = _mm256_loadu_si256(in), c0_p23 = _mm256_loadu_si256(in + 1);
    const __m256i c1_p01 = _mm256_loadu_si256(in + 2), c1_p23 = _mm256_loadu_si256(in + 3);
    auto* out = reinterpret_cast<__m256i*>(out_q + base);
    _mm256_storeu_si256(out, _mm256_permute2x128_si256(c0_p01, c1_p01, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(c0_p01, c1_p01, 0x31));
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(c0_p23, c1_p23, 0x20));
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(c0_p23, c1_p23, 0x31));
  }
  if (base < n) std::memmove(out_q + base, q + base, static_cast<size_t>(n - base));
}

// ------------------------------------------------------------------ ternary product

// Plane P's weights + 1, one unsigned byte per weight (0, 1 or 2). The 16-bit shift
// carries bits across the byte boundary, but only into bits the mask drops.
template <int P>
inline __m256i plane_values(__m256i codes) {
  const __m256i three = _mm256_set1_epi8(3);
  if constexpr (P == 0) return _mm256_and_si256(codes, three);
  else return _mm256_and_si256(_mm256_srli_epi16(codes, 2 * P), three);
}

// Adds one step's sums (R rows x T tokens) into int16 lanes. `at` is the code byte
// offset; activations start at 4 * at. kHalf: the trailing single chunk, read with
// 16-byte loads; the codes' upper half is zero, so whatever the upper half of the
// activation vector holds, it is multiplied by 0. Each plane reloads its rows' codes
// from L1 and uses each decoded vector at once, so only the R * T accumulators, one
// decoded vector and the mask stay in registers (R * T up to 12 of the 16).
template <int R, int T, bool kHalf, int P>
[[gnu::always_inline]] inline void accumulate_plane(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T],
                                                    int64_t at, __m256i (&acc)[R][T]) {
  for (int r = 0; r < R; ++r) {
    const __m256i codes = kHalf
                              ? _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r] + at)))
                              : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r] + at));
    const __m256i u = plane_values<P>(codes);
    for (int t = 0; t < T; ++t) {
      const int8_t* a = acts[t] + 4 * at + (kHalf ? 16 : 32) * P;
      const __m256i q = kHalf ? _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)))
                              : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
      acc[r][t] = _mm256_add_epi16(acc[r][t], _mm256_maddubs_epi16(u, q));
    }
  }
}

constexpr int64_t kPrefetchAhead = 4096;

// One token (GEMV): each row's codes are loaded once per step and decoded four times;
// the activation vector of a plane is shared by the R rows.
template <int R, bool kHalf, int P>
[[gnu::always_inline]] inline void accumulate_plane_gemv(const __m256i (&codes)[R], const int8_t* act, int64_t at,
                                                         __m256i (&acc)[R][1]) {
  const int8_t* a = act + 4 * at + (kHalf ? 16 : 32) * P;
  const __m256i q = kHalf ? _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)))
                          : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  for (int r = 0; r < R; ++r)
    acc[r][0] = _mm256_add_epi16(acc[r][0], _mm256_maddubs_epi16(plane_values<P>(codes[r]), q));
}

template <int R, int T, bool kHalf, bool kPrefetch>
[[gnu::always_inline]] inline void accumulate_step(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T],
                                                   int64_t at, __m256i (&acc)[R][T]) {
  if constexpr (T == 1) {
    // The tile's rows are consecutive in memory: fetching ahead of each of them keeps
    // the lines of the next tiles on their way (one token reads the codes once).
    if constexpr (kPrefetch)
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(rows[r] + at + kPrefetchAhead), _MM_HINT_T0);
    __m256i codes[R];
    for (int r = 0; r < R; ++r)
      codes[r] = kHalf ? _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r] + at)))
                       : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r] + at));
    accumulate_plane_gemv<R, kHalf, 0>(codes, acts[0], at, acc);
    accumulate_plane_gemv<R, kHalf, 1>(codes, acts[0], at, acc);
    accumulate_plane_gemv<R, kHalf, 2>(codes, acts[0], at, acc);
    accumulate_plane_gemv<R, kHalf, 3>(codes, acts[0], at, acc);
  } else {
    accumulate_plane<R, T, kHalf, 0>(rows, acts, at, acc);
    accumulate_plane<R, T, kHalf, 1>(rows, acts, at, acc);
    accumulate_plane<R, T, kHalf, 2>(rows, acts, at, acc);
    accumulate_plane<R, T, kHalf, 3>(rows, acts, at, acc);
  }
}

// Steps [s0, s1) (plus the half chunk when `half`) summed in int16, then widened into acc32.
template <int R, int T, bool kPrefetch = false>
[[gnu::always_inline]] inline void accumulate_block(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T],
                                                    int64_t s0, int64_t s1, bool half, __m256i (&acc32)[R][T]) {
  __m256i acc16[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc16[r][t] = _mm256_setzero_si256();
  for (int64_t s = s0; s < s1; ++s) accumulate_step<R, T, false, kPrefetch>(rows, acts, s * kStepBytes, acc16);
  if (half) accumulate_step<R, T, true, false>(rows, acts, s1 * kStepBytes, acc16);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc32[r][t] = _mm256_add_epi32(acc32[r][t], _mm256_madd_epi16(acc16[r][t], ones16));
}

// Horizontal sums of four int32 vectors: {sum a, sum b, sum c, sum d}.
inline __m128i hsum4_epi32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i abcd = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
  return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

// sums + scales * group_sums per lane, rounded as ternary_rescale rounds it: product,
// then sum. The empty asm hands the product over as an opaque, already rounded value,
// so the two are never fused into one FMA (this file has -mfma), which would round once
// and break bit-identity with the scalar table, even in a build without the project's
// -ffp-contract=off (GCC's default is to fuse).
inline __m128 add_scaled(__m128 sums, __m128 scales, __m128i group_sums) {
  __m128 product = _mm_mul_ps(scales, _mm_cvtepi32_ps(group_sums));
  asm("" : "+x"(product));
  return _mm_add_ps(sums, product);
}

// Rows [r0, r0 + R) against tokens [t0, t0 + T). Each output's float sum takes its
// groups in order, as ternary_rescale does: y = (sum_g scales[r, g] * acc_g) * x.scale[t].
// The R * T outputs are handled four at a time (output k is row k / T, token k % T).
template <int R, int T, bool kPrefetch = false>
void ternary_tile(const TernaryMatrix& w, const PreparedActivations& x, int64_t r0, int64_t t0, float* y,
                  int64_t y_stride) {
  constexpr int kOut = R * T, kQuads = (kOut + 3) / 4;
  const uint8_t* rows[R];
  const int8_t* acts[T];
  for (int r = 0; r < R; ++r) rows[r] = w.codes.data() + (r0 + r) * w.row_stride;
  for (int t = 0; t < T; ++t) acts[t] = x.q + (t0 + t) * x.stride;
  const int64_t groups = w.groups_per_row();
  const int64_t steps = w.n_in_padded / kStepWeights;
  // The activations' sum over group g for token t, what the weights' +1 added: a TQ
  // group is one 256-weight block, a whole-row group the total after the blocks.
  const int64_t sum_index = groups > 1 ? 0 : sum_blocks(w.n_in);
  auto activation_sum = [&](int t, int64_t g) { return activation_sums(acts[t], w.n_in_padded)[sum_index + g]; };
  const bool odd_chunk = w.n_in_padded % kStepWeights != 0;
  const float* scales = w.scales.data() + r0 * groups;
  __m128 sums[kQuads];
  for (auto& q : sums) q = _mm_setzero_ps();
  __m256i acc32[R][T];
  // Closes group g: adds its integer sums, scaled, to the float sums; clears acc32.
  auto close_group = [&](int64_t g) {
    const __m256i* acc = &acc32[0][0];
    for (int q = 0; q < kQuads; ++q) {
      __m256i v[4];
      alignas(16) float s[4] = {};
      alignas(16) int32_t offset[4] = {};
      for (int i = 0; i < 4; ++i) {
        const int k = 4 * q + i;
        v[i] = k < kOut ? acc[k] : _mm256_setzero_si256();
        if (k < kOut) {
          s[i] = scales[(k / T) * groups + g];
          offset[i] = activation_sum(k % T, g);
        }
      }
      const __m128i group_sums =
          _mm_sub_epi32(hsum4_epi32(v[0], v[1], v[2], v[3]), _mm_load_si128(reinterpret_cast<const __m128i*>(offset)));
      sums[q] = add_scaled(sums[q], _mm_load_ps(s), group_sums);
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc32[r][t] = _mm256_setzero_si256();
  };
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc32[r][t] = _mm256_setzero_si256();
  if (groups > 1) {
    // TQ blocks: a group is a whole number of steps (256 weights = 2), and with n_in a
    // multiple of the group there is no odd chunk.
    const int64_t group_steps = w.group / kStepWeights;
    for (int64_t g = 0; g < groups; ++g) {
      accumulate_block<R, T, kPrefetch>(rows, acts, g * group_steps, (g + 1) * group_steps, false, acc32);
      close_group(g);
    }
  } else {
    // Blocks of int16 sums; the last one (possibly only the odd chunk) takes the odd chunk.
    for (int64_t s = 0;; s += kMaxStepsInt16) {
      const int64_t end = std::min(steps, s + kMaxStepsInt16);
      accumulate_block<R, T, kPrefetch>(rows, acts, s, end, odd_chunk && end == steps, acc32);
      if (end == steps) break;
    }
    close_group(0);
  }
  alignas(16) float out[4 * kQuads];
  for (int q = 0; q < kQuads; ++q) _mm_store_ps(out + 4 * q, sums[q]);
  for (int k = 0; k < kOut; ++k) y[(t0 + k % T) * y_stride + r0 + k / T] = out[k] * x.scale[t0 + k % T];
}

// Rows in tiles of R for tokens [t0, t0 + T); leftover rows one at a time.
template <int R, int T, bool kPrefetch = false>
void ternary_rows(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end, int64_t t0,
                  float* y, int64_t y_stride) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) ternary_tile<R, T, kPrefetch>(w, x, r, t0, y, y_stride);
  for (; r < row_end; ++r) ternary_tile<1, T, kPrefetch>(w, x, r, t0, y, y_stride);
}

// ------------------------------------------------------------------ decoded rows
//
// Eight or more tokens (prompt passes, batches): a tile of rows is unpacked once per
// call to one unsigned byte per weight (w + 1) in a buffer on the stack, in the prepared
// activations' order, so byte i of a decoded row pairs with byte i of every token's
// activations. Every token of the call then runs over those bytes (rows outer, tokens
// inner): the decode (shift, mask) is paid once per weight and call instead of once per
// 4-token tile, and the tile's inner step is only a load per row and VPMADDUBSW +
// VPADDW per row and token, so the 12 accumulators of a 3 x 4 tile, the rows' vectors
// and one product fit the 16 YMM registers (the per-tile decode spills).

// Rows up to this many (padded) weights are decoded; longer ones take the per-tile
// decode. kDecodedRows rows of it stay in L1 next to the activations passing through.
constexpr int64_t kMaxDecodedWeights = 8192;
constexpr int kDecodedRows = 3;
constexpr int kDecodedTokens = 4;
// From this many tokens on; with 4 the per-tile decode measured as fast or faster (one
// token tile per row tile leaves the decode nobody to share it with). Only for
// whole-row groups: with TQ 256-groups a float step every 8 vectors per tile made the
// decoded rows 8-30% slower than the per-tile decode (1536-4096 wide, 8-16 tokens).
constexpr int64_t kMinDecodedTokens = 8;

// One row of OffsetCodes (n_in_padded / 4 bytes) to n_in_padded unsigned bytes w + 1,
// ordered as prepare_ternary_avx2 orders the activations: step s's plane p at
// 128 s + 32 p (both chunks), a trailing odd chunk's plane p at 16 p after the steps.
void unpack_offset_codes(const uint8_t* codes, int64_t n_in_padded, uint8_t* out) {
  const int64_t steps = n_in_padded / kStepWeights;
  for (int64_t s = 0; s < steps; ++s) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + s * kStepBytes));
    auto* o = reinterpret_cast<__m256i*>(out + s * kStepWeights);
    _mm256_storeu_si256(o, plane_values<0>(c));
    _mm256_storeu_si256(o + 1, plane_values<1>(c));
    _mm256_storeu_si256(o + 2, plane_values<2>(c));
    _mm256_storeu_si256(o + 3, plane_values<3>(c));
  }
  if (steps * kStepWeights < n_in_padded) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + steps * kStepBytes));
    const __m128i three = _mm_set1_epi8(3);
    auto* o = reinterpret_cast<__m128i*>(out + steps * kStepWeights);
    _mm_storeu_si128(o, _mm_and_si128(c, three));
    _mm_storeu_si128(o + 1, _mm_and_si128(_mm_srli_epi16(c, 2), three));
    _mm_storeu_si128(o + 2, _mm_and_si128(_mm_srli_epi16(c, 4), three));
    _mm_storeu_si128(o + 3, _mm_and_si128(_mm_srli_epi16(c, 6), three));
  }
}

// Bytes [begin, end) of decoded rows (whole 32-byte vectors) summed in int16, then
// widened into acc32. Each vector adds at most 2 * 2 * 127 = 508 to an int16 lane, so
// a block may take up to 64 vectors (32512). Not inlined: with acc32 in registers
// around it, GCC runs out of registers in the loop and spills accumulators, whose
// chains through memory then bound it.
constexpr int64_t kMaxVectorsInt16 = 64;

// acc += VPMADDUBSW(u, *a), as one asm statement: GCC otherwise computes the product
// into a fresh register and moves the sum back (a move per product), or, with 12
// accumulators, spills some of them.
#define TERN_MADD_ACC(acc, u, a)                               \
  asm("vpmaddubsw %[m], %[w], %[p]\n\tvpaddw %[p], %[c], %[c]" \
      : [c] "+x"(acc), [p] "=&x"(product)                      \
      : [w] "x"(u), [m] "m"(*reinterpret_cast<const __m256i*>(a)))

// The 3 x 4 tile: 12 accumulators, the 3 rows' vectors and one product in the 16
// YMM registers; the activations are the products' memory operands.
[[gnu::noinline]] void accumulate_decoded_block_3x4(const uint8_t* const (&rows)[3], const int8_t* const (&acts)[4],
                                                    int64_t begin, int64_t end, __m256i (&acc32)[3][4]) {
  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00,
          a20 = a00, a21 = a00, a22 = a00, a23 = a00, product;
  const uint8_t *w0 = rows[0], *w1 = rows[1], *w2 = rows[2];
  const int8_t *x0 = acts[0], *x1 = acts[1], *x2 = acts[2], *x3 = acts[3];
  for (int64_t i = begin; i < end; i += 32) {
    const __m256i u0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w0 + i));
    const __m256i u1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w1 + i));
    const __m256i u2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w2 + i));
    TERN_MADD_ACC(a00, u0, x0 + i);
    TERN_MADD_ACC(a10, u1, x0 + i);
    TERN_MADD_ACC(a20, u2, x0 + i);
    TERN_MADD_ACC(a01, u0, x1 + i);
    TERN_MADD_ACC(a11, u1, x1 + i);
    TERN_MADD_ACC(a21, u2, x1 + i);
    TERN_MADD_ACC(a02, u0, x2 + i);
    TERN_MADD_ACC(a12, u1, x2 + i);
    TERN_MADD_ACC(a22, u2, x2 + i);
    TERN_MADD_ACC(a03, u0, x3 + i);
    TERN_MADD_ACC(a13, u1, x3 + i);
    TERN_MADD_ACC(a23, u2, x3 + i);
  }
  const __m256i sums[3][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}};
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int r = 0; r < 3; ++r)
    for (int t = 0; t < 4; ++t) acc32[r][t] = _mm256_add_epi32(acc32[r][t], _mm256_madd_epi16(sums[r][t], ones16));
}
#undef TERN_MADD_ACC

template <int R, int T>
[[gnu::noinline]] void accumulate_decoded_block(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T],
                                                int64_t begin, int64_t end, __m256i (&acc32)[R][T]) {
  if constexpr (R == 3 && T == 4) return accumulate_decoded_block_3x4(rows, acts, begin, end, acc32);
  __m256i acc16[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc16[r][t] = _mm256_setzero_si256();
  for (int64_t i = begin; i < end; i += 32) {
    __m256i u[R];
    for (int r = 0; r < R; ++r) u[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(rows[r] + i));
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r)
        acc16[r][t] = _mm256_add_epi16(
            acc16[r][t], _mm256_maddubs_epi16(u[r], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acts[t] + i))));
  }
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc32[r][t] = _mm256_add_epi32(acc32[r][t], _mm256_madd_epi16(acc16[r][t], ones16));
}

// Whole-row groups: the rows go in panels of kPanelRows, and every tile writes its
// integer sums (int32, the +1 not yet taken out) into the panel's table, token-major;
// the float step then takes 8 rows of one token at a time and stores them to y as one
// vector (a store per output, to another token's line of y each, had been a third of a
// 576-wide product). kPassTokens tokens per pass (a prompt pass is 32 by default): passes
// small enough for their activations to stay in L1 (16 tokens of 1536) measured slower
// than 32-token ones, the rows' decode then being shared by fewer tokens.
constexpr int64_t kPassTokens = 64;
constexpr int64_t kPanelRows = 8 * kDecodedRows;

struct PanelSums {
  // [token of the pass, row of the panel]; the 4 extra lanes take a quad's spare lanes
  alignas(32) int32_t sums[kPassTokens][kPanelRows + 8];
};

// The whole-row sums of R decoded rows (n_in_padded bytes each) against T tokens, into
// panel.sums[t0 + t][col + r]. Each token's quad is stored whole: its lanes past R hold
// zero until the next tile (the next rows) overwrites them.
template <int R, int T>
void decoded_row_sums(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T], int64_t n_in_padded,
                      PanelSums& panel, int64_t t0, int64_t col) {
  static_assert(R <= 4, "one quad per token");
  __m256i acc32[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc32[r][t] = _mm256_setzero_si256();
  for (int64_t b = 0; b < n_in_padded; b += 32 * kMaxVectorsInt16)
    accumulate_decoded_block<R, T>(rows, acts, b, std::min(n_in_padded, b + 32 * kMaxVectorsInt16), acc32);
  for (int t = 0; t < T; ++t) {
    auto lane = [&](int r) { return r < R ? acc32[r][t] : _mm256_setzero_si256(); };
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&panel.sums[t0 + t][col]),
                     hsum4_epi32(lane(0), lane(1), lane(2), lane(3)));
  }
}

// The last n < T tokens from t0 on, in one tile of n.
template <int R, int T>
void decoded_sums_tail(const uint8_t* const (&rows)[R], const int8_t* const* acts, int64_t n_in_padded,
                       PanelSums& panel, int64_t t0, int64_t n, int64_t col) {
  if constexpr (T > 1) {
    if (n == T - 1) {
      const int8_t* tile[T - 1];
      std::copy(acts + t0, acts + t0 + T - 1, tile);
      return decoded_row_sums<R, T - 1>(rows, tile, n_in_padded, panel, t0, col);
    }
    decoded_sums_tail<R, T - 1>(rows, acts, n_in_padded, panel, t0, n, col);
  }
}

// One pass of up to kPassTokens tokens: their activation rows, the activations' sums
// (what the weights' +1 added) and scales.
struct TokenPass {
  int64_t t0 = 0, n = 0;
  const int8_t* acts[kPassTokens];
  int32_t offset[kPassTokens];
  float scale[kPassTokens];
};

// Rows [r0, r0 + R) (whole-row groups) against the tokens of `pass`: decoded into buf,
// then their integer sums in tiles of kDecodedTokens into the panel at column col.
template <int R>
void decoded_rows_whole(const TernaryMatrix& w, const TokenPass& pass, int64_t r0, uint8_t* buf, PanelSums& panel,
                        int64_t col) {
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) {
    unpack_offset_codes(w.codes.data() + (r0 + r) * w.row_stride, w.n_in_padded, buf + r * w.n_in_padded);
    rows[r] = buf + r * w.n_in_padded;
  }
  int64_t t = 0;
  for (; t + kDecodedTokens <= pass.n; t += kDecodedTokens) {
    const int8_t* tile[kDecodedTokens];
    std::copy(pass.acts + t, pass.acts + t + kDecodedTokens, tile);
    decoded_row_sums<R, kDecodedTokens>(rows, tile, w.n_in_padded, panel, t, col);
  }
  decoded_sums_tail<R, kDecodedTokens>(rows, pass.acts, w.n_in_padded, panel, t, pass.n - t, col);
}

// A panel's outputs: y = (0 + scale * (sum - offset)) * x.scale, rounded step by step as
// ternary_rescale rounds it, 8 rows of a token at a time (rows [p0, p1)).
void store_panel(const TernaryMatrix& w, const TokenPass& pass, const PanelSums& panel, int64_t p0, int64_t p1,
                 float* y, int64_t y_stride) {
  alignas(32) float scales[kPanelRows] = {};
  std::copy(w.scales.data() + p0, w.scales.data() + p1, scales);
  for (int64_t t = 0; t < pass.n; ++t) {
    const __m256i offset = _mm256_set1_epi32(pass.offset[t]);
    const __m256 activation_scale = _mm256_set1_ps(pass.scale[t]);
    float* out = y + (pass.t0 + t) * y_stride + p0;
    for (int64_t c = 0; c < p1 - p0; c += 8) {
      const __m256i sums =
          _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&panel.sums[t][c])), offset);
      __m256 product = _mm256_mul_ps(_mm256_load_ps(scales + c), _mm256_cvtepi32_ps(sums));
      asm("" : "+x"(product));  // never fused with the add (see add_scaled)
      const __m256 v = _mm256_mul_ps(_mm256_add_ps(_mm256_setzero_ps(), product), activation_scale);
      if (p1 - p0 - c >= 8) {
        _mm256_storeu_ps(out + c, v);
      } else {
        alignas(32) float values[8];
        _mm256_store_ps(values, v);
        std::copy(values, values + (p1 - p0 - c), out + c);
      }
    }
  }
}

// Rows [row_begin, row_end) (whole-row groups) in panels, each in tiles of kDecodedRows,
// the leftover ones one at a time.
void ternary_decoded(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end, float* y,
                     int64_t y_stride) {
  alignas(64) uint8_t buf[kDecodedRows * kMaxDecodedWeights];  // [kDecodedRows, n_in_padded]
  PanelSums panel;
  TokenPass pass;
  for (pass.t0 = 0; pass.t0 < x.n_tok; pass.t0 += pass.n) {
    pass.n = std::min(kPassTokens, x.n_tok - pass.t0);
    for (int64_t t = 0; t < pass.n; ++t) {
      pass.acts[t] = x.q + (pass.t0 + t) * x.stride;
      pass.offset[t] = activation_sums(pass.acts[t], w.n_in_padded)[sum_blocks(w.n_in)];
      pass.scale[t] = x.scale[pass.t0 + t];
    }
    for (int64_t p0 = row_begin; p0 < row_end; p0 += kPanelRows) {
      const int64_t p1 = std::min(row_end, p0 + kPanelRows);
      int64_t r = p0;
      for (; r + kDecodedRows <= p1; r += kDecodedRows)
        decoded_rows_whole<kDecodedRows>(w, pass, r, buf, panel, r - p0);
      for (; r < p1; ++r) decoded_rows_whole<1>(w, pass, r, buf, panel, r - p0);
      store_panel(w, pass, panel, p0, p1, y, y_stride);
    }
  }
}

// From kMinDecodedTokens tokens on (whole-row groups), rows decoded once per call
// (above). Otherwise
// tokens in tiles of up to 4, so each decoded code vector serves several tokens (and a
// matrix streamed from memory is read once per 4 tokens); fewer tokens take more rows,
// a single token (GEMV) 8, so the per-tile work (horizontal sums, scales, stores) is
// spread over more weights. R * T stays at 12 or below: the int16 accumulators share the
// 16 YMM registers with a decoded vector, an activation vector and the mask.
void matmul_ternary_avx2(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                         float* y, int64_t y_stride) {
  if (x.n_tok >= kMinDecodedTokens && w.n_in_padded <= kMaxDecodedWeights && w.groups_per_row() == 1)
    return ternary_decoded(w, x, row_begin, row_end, y, y_stride);
  int64_t t = 0;
  for (; t + 4 <= x.n_tok; t += 4) ternary_rows<3, 4>(w, x, row_begin, row_end, t, y, y_stride);
  switch (x.n_tok - t) {
    case 3: ternary_rows<4, 3>(w, x, row_begin, row_end, t, y, y_stride); break;
    case 2: ternary_rows<6, 2>(w, x, row_begin, row_end, t, y, y_stride); break;
    case 1:  // fetching ahead only where the codes come from memory (TernaryMatrix::streamed)
      if (w.streamed) ternary_rows<4, 1, true>(w, x, row_begin, row_end, t, y, y_stride);
      else ternary_rows<4, 1, false>(w, x, row_begin, row_end, t, y, y_stride);
      break;
    default: break;
  }
}

// ------------------------------------------------------------------ dense products

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lanes [0, n) set (0 <= n <= 8), for masked loads and stores of a row's tail.
inline float hsum_max_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

inline __m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 8 weights of a float-like row as f32, starting at weight i (i % 8 == 0; a Q8_0 block
// of 32 holds four such runs, all under its one scale).
template <TensorType kType>
inline __m256 load8(const uint8_t* row, int64_t i) {
  if constexpr (kType == TensorType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (kType == TensorType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  } else if constexpr (kType == TensorType::BF16) {  // bf16 is the top half of an f32
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {  // Q8_0: 34-byte blocks of an f16 scale and 32 int8
    const uint8_t* block = row + (i / 32) * 34;
    uint16_t d16;
    std::memcpy(&d16, block, 2);
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + i % 32));
    return _mm256_mul_ps(_mm256_set1_ps(f16_to_f32(d16)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
  }
}

// The last n_in % 8 weights (F32/F16/BF16 only; Q8_0 rows are whole blocks), zero-padded.
template <TensorType kType>
inline __m256 load_tail(const uint8_t* row, int64_t i, int64_t n_in) {
  alignas(32) float buf[8] = {};
  dequantize_row(kType, row + i * (kType == TensorType::F32 ? 4 : 2), buf, n_in - i);
  return _mm256_load_ps(buf);
}

// Rows [r0, r0 + R) against tokens [t0, t0 + T): each weight vector is converted once
// and used for T tokens; R * T independent FMA chains hide the FMA latency.
template <TensorType kType, int R, int T>
void dense_tile(const uint8_t* data, uint64_t stride, int64_t n_in, const float* x, int64_t x_stride, int64_t t0,
                int64_t r0, float* y, int64_t y_stride) {
  const uint8_t* rows[R];
  const float* xs[T];
  for (int r = 0; r < R; ++r) rows[r] = data + (r0 + r) * stride;
  for (int t = 0; t < T; ++t) xs[t] = x + (t0 + t) * x_stride;
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  const int64_t vec_end = n_in / 8 * 8;
  for (int64_t i = 0; i < vec_end; i += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = load8<kType>(rows[r], i);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_loadu_ps(xs[t] + i);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (vec_end < n_in) {
    const __m256i m = tail_mask(n_in - vec_end);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_tail<kType>(rows[r], vec_end, n_in);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(xs[t] + vec_end, m), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r0 + r] = hsum_ps(acc[r][t]);
}

// Tokens in tiles of 4 (one row each); leftover tokens one at a time over 4-row tiles.
template <TensorType kType>
void dense_rows(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok, int64_t row_begin,
                int64_t row_end, float* y, int64_t y_stride) {
  const uint64_t stride = row_bytes(kType, static_cast<uint64_t>(n_in));
  int64_t t = 0;
  for (; t + 4 <= n_tok; t += 4)
    for (int64_t r = row_begin; r < row_end; ++r)
      dense_tile<kType, 1, 4>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
  for (; t < n_tok; ++t) {
    int64_t r = row_begin;
    for (; r + 4 <= row_end; r += 4) dense_tile<kType, 4, 1>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
    for (; r < row_end; ++r) dense_tile<kType, 1, 1>(data, stride, n_in, x, x_stride, t, r, y, y_stride);
  }
}

// Q8_0 rows against activations quantized the same way (int8 per 32-block with an f32
// scale), as int8 dot products: VPSIGNB moves the activation's sign onto the weight so
// VPMADDUBSW can take |x| as its unsigned side (|x| * |w| pairs fit int16). Faster than
// dequantizing a 32000-row LM head; the activation rounding costs about 0.4% relative
// precision, within the stated tolerance of the logits.
// Rows [r0, r1) against T tokens: each block of weights is loaded once for all T
// tokens, so a batch reads the matrix (an LM head of tens of MB) once per T tokens
// instead of once per token. Per row and token the sums run in the same order as for
// one token, so the result does not depend on T.
template <int T>
void q8_rows(const uint8_t* data, uint64_t stride, int64_t n_in, const Q8Activations* a, int64_t r0, int64_t r1,
             float* y, int64_t y_stride) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + r * stride;
    __m256 acc[T];
    for (auto& v : acc) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_in / 32; ++b) {
      const uint8_t* block = row + b * 34;
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      const float d = _cvtsh_ss(d16);
      for (int t = 0; t < T; ++t) {
        const __m256i q = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[t].q + 32 * b));
        const __m256i magnitude = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[t].magnitude + 32 * b));
        const __m256i products = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w, q)), ones16);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), _mm256_set1_ps(d * a[t].scale[b]), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = hsum_ps(acc[t]);
  }
}

// Q8_0 rows against n_tok tokens in tiles of up to 8 (quantized first, 17 KB each).
void q8_matmul(const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride, int64_t n_tok, int64_t row_begin,
               int64_t row_end, float* y, int64_t y_stride) {
  constexpr int64_t kTile = 8;
  const uint64_t stride = row_bytes(TensorType::Q8_0, static_cast<uint64_t>(n_in));
  std::vector<Q8Activations> a(static_cast<size_t>(std::min(n_tok, kTile)));
  for (int64_t t0 = 0; t0 < n_tok;) {
    const int64_t n = n_tok - t0 >= 8 ? 8 : n_tok - t0 >= 4 ? 4 : n_tok - t0 >= 2 ? 2 : 1;
    for (int64_t t = 0; t < n; ++t) quantize_q8_activations(x + (t0 + t) * x_stride, n_in, a[static_cast<size_t>(t)]);
    float* out = y + t0 * y_stride;
    switch (n) {
      case 8: q8_rows<8>(data, stride, n_in, a.data(), row_begin, row_end, out, y_stride); break;
      case 4: q8_rows<4>(data, stride, n_in, a.data(), row_begin, row_end, out, y_stride); break;
      case 2: q8_rows<2>(data, stride, n_in, a.data(), row_begin, row_end, out, y_stride); break;
      default: q8_rows<1>(data, stride, n_in, a.data(), row_begin, row_end, out, y_stride); break;
    }
    t0 += n;
  }
}

void matmul_dense_avx2(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                       int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  if (type == TensorType::Q8_0 && n_in <= kMaxQ8Input)
    return q8_matmul(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
  if (type == TensorType::Q4_0 && n_in <= kMaxQ4_0Input)
    return matmul_q4_0_avx2(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
  switch (type) {
    case TensorType::F32:
      return dense_rows<TensorType::F32>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::F16:
      return dense_rows<TensorType::F16>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::BF16:
      return dense_rows<TensorType::BF16>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::Q8_0:
      return dense_rows<TensorType::Q8_0>(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
    case TensorType::Q6_K:
      if (n_in <= kMaxQ6KInput) return matmul_q6k_avx2(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
      [[fallthrough]];
    case TensorType::Q4_0:
    case TensorType::Q4_K:
      return matmul_dense_via_f32(matmul_dense_avx2, type, data, n_in, x, x_stride, n_tok, row_begin, row_end, y,
                                  y_stride);
    default:  // ternary types never reach the dense path; keep the reference behaviour
      return scalar_kernels().matmul_dense(type, data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
  }
}

// ------------------------------------------------------------------ vector helpers

// Eight elements of a float or IEEE-half row (KV caches hold either), and the last
// n < 8 of one, zero beyond.
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load_tail(const float* p, int64_t n) { return _mm256_maskload_ps(p, tail_mask(n)); }
inline __m256 load_tail(const uint16_t* p, int64_t n) {
  alignas(16) uint16_t part[8] = {};
  std::memcpy(part, p, static_cast<size_t>(n) * sizeof(uint16_t));
  return load8(part);
}

// dot and axpy over float or IEEE-half rows (attention_head.h).
struct Avx2Rows {
  template <typename Element>
  static float dot(const float* a, const Element* b, int64_t n) {
    // Four independent chains: one FMA chain would wait on its latency every step.
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
      for (int k = 0; k < 4; ++k)
        acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), load8(b + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), acc[0]);
    if (i < n) acc[1] = _mm256_fmadd_ps(load_tail(a + i, n - i), load_tail(b + i, n - i), acc[1]);
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  }
  template <typename Element>
  static void axpy(float a, const Element* x, float* y, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, load8(x + i), _mm256_loadu_ps(y + i)));
    if (i < n) {
      const __m256i m = tail_mask(n - i);
      _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(av, load_tail(x + i, n - i), _mm256_maskload_ps(y + i, m)));
    }
  }
};

// Round to nearest even (the scalar table's f32_to_f16).
void to_f16_avx2(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

// e^x for |x| <= 87 (clamped there: beyond, e^x is 0 or huge in practice):
// x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor polynomial to r^7 (relative
// error below 1e-7), times 2^n built in the exponent field (n in [-126, 126]).
inline __m256 exp_clamped(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  for (const float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
  const __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(two_n));
}

// SwiGLU's gating with the vectorized e^x (std::exp per element had been 5-20% of a
// token on this table).
void silu_gate_avx2(float* gate, const float* up, int64_t n) {
  auto silu_times = [](__m256 z, __m256 u) {
    const __m256 e = exp_clamped(_mm256_sub_ps(_mm256_setzero_ps(), z));
    return _mm256_mul_ps(_mm256_div_ps(z, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(gate + i, silu_times(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(gate + i, m, silu_times(_mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m)));
  }
}

// attention_head_impl (attention_head.h) with the softmax's e^x vectorized.
template <typename Element>
void attention_head_avx2(const float* q, KvRows keys, KvRows values, int64_t n_pos, int64_t head_dim, float scale,
                         float* scores, float* out) {
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t p = 0;
  for (; p < n_pos; ++p) scores[p] = Avx2Rows::dot(q, keys.row_as<Element>(p), head_dim) * scale;
  for (p = 0; p + 8 <= n_pos; p += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(scores + p));
  float max_score = hsum_max_ps(vmax);
  for (; p < n_pos; ++p) max_score = std::max(max_score, scores[p]);
  const __m256 vmax_score = _mm256_set1_ps(max_score);
  __m256 vtotal = _mm256_setzero_ps();
  for (p = 0; p + 8 <= n_pos; p += 8) {
    const __m256 e = exp_clamped(_mm256_sub_ps(_mm256_loadu_ps(scores + p), vmax_score));
    _mm256_storeu_ps(scores + p, e);
    vtotal = _mm256_add_ps(vtotal, e);
  }
  if (p < n_pos) {
    const __m256i m = tail_mask(n_pos - p);
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(m),
                                   exp_clamped(_mm256_sub_ps(_mm256_maskload_ps(scores + p, m), vmax_score)));
    _mm256_maskstore_ps(scores + p, m, e);
    vtotal = _mm256_add_ps(vtotal, e);
  }
  const float total = hsum_ps(vtotal);
  std::fill(out, out + head_dim, 0.0f);
  for (p = 0; p < n_pos; ++p) Avx2Rows::axpy(scores[p] / total, values.row_as<Element>(p), out, head_dim);
}

void attention_heads_avx2(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores, float* out) {
  for (int64_t h = 0; h < n_heads; ++h) {
    if (keys.type == KvType::F16)
      attention_head_avx2<uint16_t>(q + h * head_dim, keys, values, n_pos, head_dim, scale, scores + h * n_pos,
                                    out + h * head_dim);
    else
      attention_head_avx2<float>(q + h * head_dim, keys, values, n_pos, head_dim, scale, scores + h * n_pos,
                                 out + h * head_dim);
  }
}

float quantize_row_avx2(const float* x, int64_t n, int8_t* q) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(abs_mask, _mm256_loadu_ps(x + i)));
  if (i < n) {  // masked-off lanes load as 0, which never raises the maximum
    const __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
    vmax = _mm256_max_ps(vmax, _mm256_and_ps(abs_mask, v));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  if (amax == 0) {
    std::memset(q, 0, static_cast<size_t>(n));
    return 0;
  }
  // (x * 127) / amax exactly as the scalar formula (mul, then div; never a
  // reciprocal), rounded to nearest even by the conversion, so the bytes match.
  const __m256 k127 = _mm256_set1_ps(127.0f), vamax = _mm256_set1_ps(amax);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), k127), vamax));
    // |v| <= 127: the saturating packs are exact narrowings.
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packs_epi16(w16, w16));
  }
  for (; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * 127.0f / amax));
  return amax / 127.0f;
}

}  // namespace

const KernelTable& avx2_kernels() {
  static const KernelTable table{Isa::Avx2,
                                 TernaryLayout::OffsetCodes,
                                 kMaxExactInputInt32,
                                 prepared_bytes_avx2,
                                 prepare_ternary_avx2,
                                 matmul_ternary_avx2,
                                 matmul_dense_avx2,
                                 Avx2Rows::dot<float>,
                                 Avx2Rows::axpy<float>,
                                 attention_heads_avx2,
                                 quantize_row_avx2,
                                 silu_gate_avx2,
                                 nullptr,
                                 to_f16_avx2};
  return table;
}

}  // namespace tern
