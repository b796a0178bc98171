// AVX-512 kernels (F, BW, VL, DQ, VNNI, VBMI) with GFNI. Compiled with those flags; only called
// when the CPU reports them (see cpu_features.cpp).
//
// Ternary product, lookup-table style (TritTriples layout, ternary_matrix.h): for each
// token, every triple of activations (a0, a1, a2) gets a 32-entry int16 table of its 27
// signed sums t0 a0 + t1 a1 + t2 a2 (t in {-1, 0, +1}), built with masked adds and
// subtracts. A weight word then holds, per row, the table indices of three weight
// triples, and one VPERMW looks up 32 rows' sums of three weight-activation products at
// once: no multiplication by a weight anywhere, and three times fewer instructions than
// selecting and adding single activations. Sums stay exact: int16 within a 256-weight
// segment (|sum| <= 256 * 127), float partial sums (below 2^24) across segments.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/attention_head.h"
#include "kernels/dense_via_f32.h"
#include "kernels/dequantize.h"
#include "kernels/kernels.h"
#include "kernels/q6k_avx512.h"
#include "kernels/quantized_tile.h"

namespace tern {
namespace {

using Words = TernaryMatrix;  // layout constants of TritTriples

constexpr int64_t kTableBytes = 64;  // one table: 32 int16 entries (27 used)
// Segment sums become float partial sums, exact while |sum| <= n_in * 127 < 2^24.
constexpr int64_t kMaxExactInput = ((int64_t{1} << 24) - 1) / 127;
constexpr int64_t kWordTableBytes = 3 * kTableBytes;
// Weight words are read once per token tile, mostly from memory: asking for them this
// far ahead keeps enough cache misses in flight for one core to reach the memory
// bandwidth (the hardware prefetcher alone reached about half of it).
constexpr int64_t kPrefetchBytes = 4096;
// A pass of one tile (generation, or a thread's 2 sequences of a data-parallel batch)
// uses each weight word once: a non-temporal prefetch keeps the stream from evicting the
// tokens' tables from L1 (and the caches from holding words that will not come back),
// 15-35% more from-memory throughput for one token, 1-5% for batches of 4 and 8 on 2
// threads. Passes of several tiles re-read a segment's words from L2 for their later
// tiles, so those keep them cached.

int64_t prepared_bytes_avx512(int64_t n_in) { return TernaryMatrix::words_for(n_in) * kWordTableBytes; }

// Lanes e of a table where trit k of index e is +1 (digit 2) or -1 (digit 0); entries
// 27..31 are never indexed and stay 0.
struct TritMasks {
  std::array<__mmask32, 3> plus{}, minus{};
};

constexpr TritMasks make_trit_masks() {
  TritMasks m;
  for (int e = 0; e < 27; ++e) {
    int rest = e;
    for (int k = 0; k < 3; ++k, rest /= 3) {
      if (rest % 3 == 2) m.plus[k] |= __mmask32{1} << e;
      if (rest % 3 == 0) m.minus[k] |= __mmask32{1} << e;
    }
  }
  return m;
}

constexpr TritMasks kTritMasks = make_trit_masks();

// The table of one activation triple a[0..3): entry e = sum over k of trit_k(e) * a_k,
// by masked adds and subtracts of the broadcast activations.
inline __m512i triple_table(const int16_t* a) {
  __m512i table = _mm512_setzero_si512();
  for (int k = 0; k < 3; ++k) {
    const __m512i v = _mm512_set1_epi16(a[k]);
    table = _mm512_mask_add_epi16(table, kTritMasks.plus[k], table, v);
    table = _mm512_mask_sub_epi16(table, kTritMasks.minus[k], table, v);
  }
  return table;
}

// A segment's activations (count <= 256 of them) as int16, zero from count up to the
// 288 that its 29 words' 87 triples can reach (a triple past the segment's end reads 0).
constexpr int64_t kSegmentSlots = 288;

void widen_segment(const int8_t* q, int64_t count, int16_t* out) {
  for (int64_t c = 0; c < kSegmentSlots; c += 32) {
    const int64_t n = std::clamp<int64_t>(count - c, 0, 32);
    const auto mask = static_cast<__mmask32>(n == 32 ? ~0u : (1u << n) - 1);
    _mm512_store_si512(out + c, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, q + c)));
  }
}

// One token's tables, triple by triple in the order of the weight words (segments of 256
// activations, each padded to whole words with zero activations).
void prepare_ternary_avx512(const int8_t* q, int64_t n_in, int8_t* out) {
  const int64_t words = TernaryMatrix::words_for(n_in);
  alignas(64) int16_t segment[kSegmentSlots];
  for (int64_t word = 0; word < words; word += Words::kWordsPerSegment) {
    const int64_t first = word / Words::kWordsPerSegment * Words::kSegmentWeights;
    widen_segment(q + first, std::min(Words::kSegmentWeights, n_in - first), segment);
    const int64_t triples = 3 * std::min(Words::kWordsPerSegment, words - word);
    int8_t* tables = out + word * kWordTableBytes;
    for (int64_t k = 0; k < triples; ++k) _mm512_store_si512(tables + k * kTableBytes, triple_table(segment + 3 * k));
  }
}

// Rows of `block` inside [row_begin, row_end), as a lane mask.
__mmask32 rows_kept(int64_t block, int64_t row_begin, int64_t row_end) {
  const int64_t first = std::max<int64_t>(0, row_begin - block * Words::kBlockRows);
  const int64_t end = std::min<int64_t>(Words::kBlockRows, row_end - block * Words::kBlockRows);
  if (end <= first) return 0;
  return static_cast<__mmask32>(((1ull << end) - 1) & ~((1ull << first) - 1));  // end <= 32
}

// y[0..32) (the lanes in keep) = lo, hi, or += when not the first segment.
inline void add_to_rows(float* y, __mmask32 keep, bool first, __m512 lo, __m512 hi) {
  const auto keep_lo = static_cast<__mmask16>(keep), keep_hi = static_cast<__mmask16>(keep >> 16);
  if (!first) {
    lo = _mm512_add_ps(_mm512_maskz_loadu_ps(keep_lo, y), lo);
    hi = _mm512_add_ps(_mm512_maskz_loadu_ps(keep_hi, y + 16), hi);
  }
  _mm512_mask_storeu_ps(y, keep_lo, lo);
  _mm512_mask_storeu_ps(y + 16, keep_hi, hi);
}

// One segment (up to 29 words = 256 weights) of the 32 rows of `block` against T
// tokens, added into y. Per word: one load of the weight word, two shifts to bring the
// second and third indices to the low bits (VPERMW reads bits 0-4 of each lane), three
// table lookups per token. The int16 segment sums become floats: exact, since every
// partial sum of a row stays below 2^24 in magnitude (n_in * 127 < 2^24). With one
// scale per segment (TQ files) each segment's sum is scaled before it is added, in
// segment order like the scalar kernel; otherwise the row scale comes at the end.
// Where a thread's stream of words goes: its blocks of one segment are contiguous up to
// run_end, and the stream continues at next_run (its blocks of the next segment; other
// threads' blocks lie between). Prefetches follow the stream, not the addresses.
struct WordStream {
  const char* run_end;
  const char* next_run;  // null after the last segment
  const char* ahead(const uint16_t* word) const {
    const char* p = reinterpret_cast<const char*>(word) + kPrefetchBytes;
    return p < run_end || next_run == nullptr ? p : next_run + (p - run_end);
  }
};

// _mm_prefetch's hint: an enum (_mm_hint) in GCC, an int in clang.
using PrefetchHint = decltype(_MM_HINT_T0);

template <int T, PrefetchHint kHint>
void triple_segment(const TernaryMatrix& w, const PreparedActivations& x, int64_t block, int64_t segment,
                    const WordStream& stream, __mmask32 keep, float* y, int64_t y_stride) {
  const uint16_t* words = w.segment_words(block, segment);
  const int64_t n_words = w.words_in_segment(segment);
  const int8_t* tables[T];
  __m512i acc[T];
  for (int t = 0; t < T; ++t) {
    tables[t] = x.q + t * x.stride + segment * Words::kWordsPerSegment * kWordTableBytes;
    acc[t] = _mm512_setzero_si512();
  }
  for (int64_t i = 0; i < n_words; ++i) {
    _mm_prefetch(stream.ahead(words + i * Words::kBlockRows), kHint);
    const __m512i index0 = _mm512_load_si512(words + i * Words::kBlockRows);
    const __m512i index1 = _mm512_srli_epi16(index0, 5), index2 = _mm512_srli_epi16(index0, 10);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* table = tables[t] + i * kWordTableBytes;
      const __m512i s01 = _mm512_add_epi16(_mm512_permutexvar_epi16(index0, _mm512_load_si512(table)),
                                           _mm512_permutexvar_epi16(index1, _mm512_load_si512(table + kTableBytes)));
      acc[t] = _mm512_add_epi16(
          acc[t], _mm512_add_epi16(s01, _mm512_permutexvar_epi16(index2, _mm512_load_si512(table + 2 * kTableBytes))));
    }
  }
  const int64_t groups = w.groups_per_row();
  const float* scale = w.lane_scales.data() + (block * groups + segment) * Words::kBlockRows;
  for (int t = 0; t < T; ++t) {
    __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(acc[t])));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(acc[t], 1)));
    if (groups > 1) {
      lo = _mm512_mul_ps(_mm512_loadu_ps(scale), lo);
      hi = _mm512_mul_ps(_mm512_loadu_ps(scale + 16), hi);
    }
    add_to_rows(y + t * y_stride + block * Words::kBlockRows, keep, segment == 0, lo, hi);
  }
}

// Last step per block and token: the row scale (one scale per row) and the token's
// activation scale.
void scale_block(const TernaryMatrix& w, const PreparedActivations& x, int64_t block, __mmask32 keep, float* y,
                 int64_t y_stride) {
  const bool row_scale = w.groups_per_row() == 1;
  const float* scale = w.lane_scales.data() + block * Words::kBlockRows;
  const auto keep_lo = static_cast<__mmask16>(keep), keep_hi = static_cast<__mmask16>(keep >> 16);
  for (int64_t t = 0; t < x.n_tok; ++t) {
    float* rows = y + t * y_stride + block * Words::kBlockRows;
    __m512 lo = _mm512_maskz_loadu_ps(keep_lo, rows), hi = _mm512_maskz_loadu_ps(keep_hi, rows + 16);
    if (row_scale) {
      lo = _mm512_mul_ps(_mm512_loadu_ps(scale), lo);
      hi = _mm512_mul_ps(_mm512_loadu_ps(scale + 16), hi);
    }
    const __m512 activation_scale = _mm512_set1_ps(x.scale[t]);
    _mm512_mask_storeu_ps(rows, keep_lo, _mm512_mul_ps(lo, activation_scale));
    _mm512_mask_storeu_ps(rows + 16, keep_hi, _mm512_mul_ps(hi, activation_scale));
  }
}

// One segment of one block against a tile of up to four tokens. kHint: where the
// prefetched words go (see kPrefetchBytes).
template <PrefetchHint kHint>
void triple_segment_tile(const TernaryMatrix& w, const PreparedActivations& x, int64_t block, int64_t segment,
                         const WordStream& stream, __mmask32 keep, float* y, int64_t y_stride) {
  switch (x.n_tok) {
    case 4: return triple_segment<4, kHint>(w, x, block, segment, stream, keep, y, y_stride);
    case 3: return triple_segment<3, kHint>(w, x, block, segment, stream, keep, y, y_stride);
    case 2: return triple_segment<2, kHint>(w, x, block, segment, stream, keep, y, y_stride);
    case 1: return triple_segment<1, kHint>(w, x, block, segment, stream, keep, y, y_stride);
    default: return;
  }
}

PreparedActivations token_range(const PreparedActivations& x, int64_t first, int64_t count) {
  PreparedActivations part = x;
  part.q = x.q + first * x.stride;
  part.scale = x.scale + first;
  part.n_tok = std::min(count, x.n_tok - first);
  return part;
}

// The order of a product's work follows the segment-major layout: segment by segment,
// every block of the row range, so the weights are read as one forward stream and a
// token's table for one segment (5.6 KB) stays in L1 while all the blocks use it.
// Tokens go in tiles of up to four, which share each load of a weight word (their tables
// for a segment, 22 KB, still fit L1). The first tile of a pass reads a segment's words
// from memory, later tiles find them in L2 (a segment of 4096 rows is 238 KB), so a pass
// of up to 32 tokens reads each weight from memory once.
//
// A pass of more than two tokens starts with a tile of one: on the 2-core VM measured, a
// core overlapped its reads from memory with the work of a one-token tile but hardly
// with that of a wider one (a four-token tile from memory took about as long as the
// same tile from cache plus the bare reads). The one-token tile streams the words in at
// close to the bandwidth and the wider tiles after it find them in L2. Interleaved
// (tools/microbench, BM_TernaryFromMemory, one thread): 4 tokens as 1 + 3 took 16-20%
// less time than as one tile, 8 as 1 + 4 + 3 1-12% less than as 4 + 4, 16 tokens 4-12%
// less. Two tokens stay one tile: as 1 + 1 they were slower on 2 threads.
constexpr int64_t kTokensPerTile = 4;
constexpr int64_t kTokensPerPass = 32;
constexpr int64_t kMaxTokensInOneTile = 2;

// Tokens of the tile that starts at `tile` in a pass of n_tok tokens.
int64_t tile_tokens(int64_t n_tok, int64_t tile) {
  return tile == 0 && n_tok > kMaxTokensInOneTile ? 1 : kTokensPerTile;
}

void matmul_ternary_avx512(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                           float* y, int64_t y_stride) {
  if (row_begin >= row_end) return;
  const int64_t first_block = row_begin / Words::kBlockRows;
  const int64_t end_block = (row_end + Words::kBlockRows - 1) / Words::kBlockRows;
  for (int64_t t0 = 0; t0 < x.n_tok; t0 += kTokensPerPass) {
    const PreparedActivations pass = token_range(x, t0, kTokensPerPass);
    const bool one_tile = pass.n_tok <= kMaxTokensInOneTile;  // each word is used once
    for (int64_t segment = 0; segment < w.segments(); ++segment) {
      const bool last = segment + 1 == w.segments();
      const WordStream stream{
          reinterpret_cast<const char*>(w.segment_words(end_block, segment)),
          last ? nullptr : reinterpret_cast<const char*>(w.segment_words(first_block, segment + 1))};
      for (int64_t tile = 0, size = 0; tile < pass.n_tok; tile += size) {
        size = tile_tokens(pass.n_tok, tile);
        const PreparedActivations tokens = token_range(pass, tile, size);
        float* y_tile = y + (t0 + tile) * y_stride;
        for (int64_t block = first_block; block < end_block; ++block) {
          const __mmask32 keep = rows_kept(block, row_begin, row_end);
          if (one_tile) triple_segment_tile<_MM_HINT_NTA>(w, tokens, block, segment, stream, keep, y_tile, y_stride);
          else triple_segment_tile<_MM_HINT_T0>(w, tokens, block, segment, stream, keep, y_tile, y_stride);
        }
      }
    }
  }
  for (int64_t block = first_block; block < end_block; ++block)
    scale_block(w, x, block, rows_kept(block, row_begin, row_end), y, y_stride);
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

// Lane i of the result: the sum of the 16 lanes of v[i]. A tree of unpacks and lane
// shuffles: 45 instructions for 16 sums instead of 16 separate reductions.
inline __m512 sum_lanes_of_16(const __m512 (&v)[16]) {
  __m512 pairs[8], quads[4];
  for (int k = 0; k < 8; ++k)
    pairs[k] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]), _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]));
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(pairs[2 * g]), b = _mm512_castps_pd(pairs[2 * g + 1]);
    quads[g] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  auto fold = [](__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  };
  return fold(fold(quads[0], quads[1]), fold(quads[2], quads[3]));
}

// y[t * y_stride + r] for rows [r0, r1) and T tokens, from row_partials(r, acc), which
// leaves in acc[t] a vector of partial sums of row r's dot product with token t. Sixteen
// rows' vectors are reduced by one shuffle tree (45 instructions for 16 rows instead of
// a horizontal sum per row and token, which costs as much as a short row's dot product).
template <int T, typename RowPartials>
void rows_by_sixteen(int64_t r0, int64_t r1, float* y, int64_t y_stride, RowPartials row_partials) {
  for (int64_t g = r0; g < r1; g += 16) {
    const int64_t rows = std::min<int64_t>(16, r1 - g);
    __m512 partial[T][16];  // [token][row of the group]
    for (int64_t i = 0; i < 16; ++i) {
      __m512 acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
      if (i < rows) row_partials(g + i, acc);
      for (int t = 0; t < T; ++t) partial[t][i] = acc[t];
    }
    const auto kept = static_cast<__mmask16>((1u << rows) - 1);
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride + g, kept, sum_lanes_of_16(partial[t]));
  }
}

// Rows of a float-like matrix against T tokens (t0..t0+T-1), up to 8 sharing each load.
template <int T>
void dense_rows(TensorType type, const uint8_t* data, uint64_t stride, int64_t n_in, const float* x, int64_t x_stride,
                int64_t t0, int64_t r0, int64_t r1, float* y, int64_t y_stride) {
  const int64_t vec_end = n_in / 16 * 16;
  std::vector<float> tail_row;
  rows_by_sixteen<T>(r0, r1, y + t0 * y_stride, y_stride, [&](int64_t r, __m512(&acc)[T]) {
    const uint8_t* row = data + r * stride;
    for (int64_t c = 0; c < vec_end; c += 16) {
      const __m512 wv = load16(type, row, c);
      for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + (t0 + t) * x_stride + c), acc[t]);
    }
    if (vec_end < n_in) {  // rows not a multiple of 16 (F32/F16/BF16 only)
      tail_row.resize(static_cast<size_t>(n_in));
      dequantize_row(type, row, tail_row.data(), n_in);
      const __mmask16 m = static_cast<__mmask16>((1u << (n_in - vec_end)) - 1);
      const __m512 wv = _mm512_maskz_loadu_ps(m, tail_row.data() + vec_end);
      for (int t = 0; t < T; ++t)
        acc[t] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x + (t0 + t) * x_stride + vec_end), acc[t]);
    }
  });
}

// Q8_0 rows against activations quantized the same way (int8 per 32-block with an f32
// scale): the int8 products run on VPDPBUSD, which wants unsigned x signed bytes, so the
// activation's sign moves onto the weight (a masked negate) and |x| is the unsigned side.
// Faster than dequantizing 32000 rows of an LM head; the activation rounding costs
// about 0.4% relative precision, within the stated tolerance of the logits. Up to eight
// tokens share each row's loads (batches and prompts read the head once per tile).
constexpr int64_t kMaxQ8Input = 8192;

struct Q8Activations {
  alignas(64) uint8_t magnitude[kMaxQ8Input];  // |round(x / d)|
  uint32_t negative[kMaxQ8Input / 32];         // sign bits per block
  float scale[kMaxQ8Input / 32];               // d = max|x| / 127 per block
  // Per pair of blocks, ready for the inner loop: the 64 sign bits, and the two scales
  // as the halves of a vector (the lanes VPDPBUSD sums each block into).
  alignas(64) float pair_scale[kMaxQ8Input / 64][16];
  uint64_t pair_negative[kMaxQ8Input / 64];
};

// One 32-input block of activations as int8, round(x * 127 / max|x|); *scale gets
// max|x| / 127. Both Q8_0 head kernels quantize their activations this way.
inline __m256i quantize_q8_block(const float* x, float* scale) {
  const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
  const float amax = std::max(_mm512_reduce_max_ps(_mm512_abs_ps(lo)), _mm512_reduce_max_ps(_mm512_abs_ps(hi)));
  *scale = amax / 127.0f;
  const __m512 inv = _mm512_set1_ps(amax == 0 ? 0.0f : 127.0f / amax);
  const __m128i qlo = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)));
  const __m128i qhi = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, inv)));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(qlo), qhi, 1);
}

void quantize_q8_activations(const float* x, int64_t n_in, Q8Activations& a) {
  for (int64_t b = 0; b < n_in / 32; ++b) {
    const __m256i q = quantize_q8_block(x + 32 * b, &a.scale[b]);
    a.negative[b] = _mm256_movemask_epi8(q);
    _mm256_store_si256(reinterpret_cast<__m256i*>(a.magnitude + 32 * b), _mm256_abs_epi8(q));
  }
  for (int64_t b = 0; b + 2 <= n_in / 32; b += 2) {
    std::fill_n(a.pair_scale[b / 2], 8, a.scale[b]);
    std::fill_n(a.pair_scale[b / 2] + 8, 8, a.scale[b + 1]);
    a.pair_negative[b / 2] = a.negative[b] | (static_cast<uint64_t>(a.negative[b + 1]) << 32);
  }
}

inline float f16_scale(const uint8_t* block) {
  uint16_t d16;
  std::memcpy(&d16, block, 2);
  return _cvtsh_ss(d16);
}

// Two Q8_0 blocks (64 weights) of a row as one vector, and their two scales as the
// matching halves of a float vector.
inline __m512i load_block_pair(const uint8_t* block) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 34 + 2));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

inline __m512 pair_scales(float lo, float hi) { return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1); }

// One row per loop: with up to 8 tokens the grouped reduction of rows_by_sixteen
// measured 5% slower here (B = 8 on the 125m head), the int8 products dominate.
template <int T>
void q8_rows(const uint8_t* data, uint64_t stride, int64_t n_in, const Q8Activations* const (&a)[T], int64_t r0,
             int64_t r1, float* y, int64_t y_stride) {
  const int64_t blocks = n_in / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + r * stride;
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= blocks; b += 2) {
      const uint8_t* block = row + b * 34;
      const __m512i w = load_block_pair(block);
      const __m512 weight_scales = pair_scales(f16_scale(block), f16_scale(block + 34));
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const __m512i signed_w = _mm512_mask_sub_epi8(w, a[t]->pair_negative[b / 2], _mm512_setzero_si512(), w);
        const __m512i magnitude = _mm512_load_si512(a[t]->magnitude + 32 * b);
        const __m512i products = _mm512_dpbusd_epi32(_mm512_setzero_si512(), magnitude, signed_w);
        const __m512 scale = _mm512_mul_ps(weight_scales, _mm512_load_ps(a[t]->pair_scale[b / 2]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(products), scale, acc[t]);
      }
    }
    if (b < blocks) {  // an odd last block: the low half of a vector, the high half zero
      const uint8_t* block = row + b * 34;
      const __m512i w = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, block + 2);
      for (int t = 0; t < T; ++t) {
        const __m512i signed_w = _mm512_mask_sub_epi8(w, a[t]->negative[b], _mm512_setzero_si512(), w);
        const __m512i magnitude = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, a[t]->magnitude + 32 * b);
        const __m512i products = _mm512_dpbusd_epi32(_mm512_setzero_si512(), magnitude, signed_w);
        acc[t] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(products), _mm512_set1_ps(f16_scale(block) * a[t]->scale[b]), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[t]);
  }
}

template <int T>
void q8_tile(const uint8_t* data, uint64_t stride, int64_t n_in, const float* x, int64_t x_stride, int64_t r0,
             int64_t r1, float* y, int64_t y_stride) {
  run_quantized_tile<T, Q8Activations>(
      x, x_stride, [n_in](const float* xt, Q8Activations& a) { quantize_q8_activations(xt, n_in, a); },
      [&](const Q8Activations* const(&tokens)[T]) { q8_rows<T>(data, stride, n_in, tokens, r0, r1, y, y_stride); });
}

void matmul_dense_avx512(TensorType type, const uint8_t* data, int64_t n_in, const float* x, int64_t x_stride,
                         int64_t n_tok, int64_t row_begin, int64_t row_end, float* y, int64_t y_stride) {
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  if (type == TensorType::Q8_0 && n_in <= kMaxQ8Input) {
    for_token_tiles<8, 4, 3, 2, 1>(n_tok, [&]<int T>(int64_t t) {
      q8_tile<T>(data, stride, n_in, x + t * x_stride, x_stride, row_begin, row_end, y + t * y_stride, y_stride);
    });
    return;
  }
  if (type == TensorType::Q6_K && n_in <= kMaxQ6KInput)
    return matmul_q6k_avx512(data, n_in, x, x_stride, n_tok, row_begin, row_end, y, y_stride);
  if (type == TensorType::Q4_0 || type == TensorType::Q4_K || type == TensorType::Q6_K)
    return matmul_dense_via_f32(matmul_dense_avx512, type, data, n_in, x, x_stride, n_tok, row_begin, row_end, y,
                                y_stride);
  for_token_tiles<8, 4, 1>(n_tok, [&]<int T>(int64_t t) {
    dense_rows<T>(type, data, stride, n_in, x, x_stride, t, row_begin, row_end, y, y_stride);
  });
}

// The Q8_0 head in row groups. Per token the activations are quantized like the Q8_0
// kernel's (int8 per 32-block, scale max|x| / 127); per group, block and 4 inputs one
// VPDPBUSD adds 16 rows' products of the unsigned weights w + 128 against the token's 4
// signed activation bytes, broadcast straight from memory; the block's offset (128 *
// the sum of its activations) comes off before the block scale.
struct Q8Signed {
  std::vector<int8_t> bytes;    // [n_in]
  std::vector<float> scale;     // [n_in / 32]
  std::vector<int32_t> offset;  // [n_in / 32] 128 * sum of the block's bytes
};

void quantize_q8_signed(const float* x, int64_t n_in, Q8Signed& a) {
  a.bytes.resize(static_cast<size_t>(n_in));
  a.scale.resize(static_cast<size_t>(n_in / 32));
  a.offset.resize(static_cast<size_t>(n_in / 32));
  for (int64_t b = 0; b < n_in / 32; ++b) {
    const __m256i q = quantize_q8_block(x + 32 * b, &a.scale[b]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.bytes.data() + 32 * b), q);
    const __m512i wide = _mm512_cvtepi8_epi16(q);
    a.offset[b] = 128 * _mm512_reduce_add_epi32(_mm512_madd_epi16(wide, _mm512_set1_epi16(1)));
  }
}

template <int T>
void q8_groups_tile(const Q8RowGroups& w, const Q8Signed* const (&a)[T], int64_t row_begin, int64_t row_end, float* y,
                    int64_t y_stride) {
  const int64_t blocks = w.blocks(), steps = w.n_in / 4;
  for (int64_t g = row_begin / 16; g * 16 < row_end; ++g) {
    const uint8_t* group = w.weights.data() + g * steps * 64;
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      __m512i dots[T];
      for (int t = 0; t < T; ++t) dots[t] = _mm512_setzero_si512();
      for (int64_t k = 0; k < 8; ++k) {
        const __m512i weights = _mm512_load_si512(group + (b * 8 + k) * 64);
        for (int t = 0; t < T; ++t) {
          int32_t four;
          std::memcpy(&four, a[t]->bytes.data() + b * 32 + k * 4, 4);
          dots[t] = _mm512_dpbusd_epi32(dots[t], weights, _mm512_set1_epi32(four));
        }
      }
      const __m512 scale = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.scales.data() + (g * blocks + b) * 16)));
      for (int t = 0; t < T; ++t)
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dots[t], _mm512_set1_epi32(a[t]->offset[b]))),
                                 _mm512_mul_ps(scale, _mm512_set1_ps(a[t]->scale[b])), acc[t]);
    }
    const int64_t first = g * 16;
    const auto kept = static_cast<__mmask16>((1u << std::min<int64_t>(16, row_end - first)) - 1);
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride + first, kept, acc[t]);
  }
}

template <int T>
void q8_groups_tokens(const Q8RowGroups& w, const float* x, int64_t x_stride, int64_t row_begin, int64_t row_end,
                      float* y, int64_t y_stride) {
  run_quantized_tile<T, Q8Signed>(
      x, x_stride, [&w](const float* xt, Q8Signed& a) { quantize_q8_signed(xt, w.n_in, a); },
      [&](const Q8Signed* const(&tokens)[T]) { q8_groups_tile<T>(w, tokens, row_begin, row_end, y, y_stride); });
}

void matmul_q8_groups_avx512(const Q8RowGroups& w, const float* x, int64_t x_stride, int64_t n_tok, int64_t row_begin,
                             int64_t row_end, float* y, int64_t y_stride) {
  for_token_tiles<8, 4, 1>(n_tok, [&]<int T>(int64_t t) {
    q8_groups_tokens<T>(w, x + t * x_stride, x_stride, row_begin, row_end, y + t * y_stride, y_stride);
  });
}

// Sixteen elements of a float or IEEE-half row (KV caches hold either), or the first
// lanes of m of them, zero elsewhere.
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load16(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// dot and axpy over float or IEEE-half rows (attention_head.h).
struct Avx512Rows {
  template <typename Element>
  static float dot(const float* a, const Element* b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load16(b + i), acc);
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), load16(b + i, m), acc);
    }
    return _mm512_reduce_add_ps(acc);
  }
  template <typename Element>
  static void axpy(float a, const Element* x, float* y, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, load16(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
      _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, load16(x + i, m), _mm512_maskz_loadu_ps(m, y + i)));
    }
  }
};

// Round to nearest even (the scalar table's f32_to_f16).
void to_f16_avx512(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

// e^x for |x| <= 87 (clamped there: beyond, e^x is 0 or huge in practice):
// x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor polynomial to r^7 (relative
// error below 1e-7), times 2^n.
inline __m512 exp_clamped(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  for (const float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  return _mm512_scalef_ps(p, n);
}

void silu_gate_avx512(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const auto m = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512 z = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 silu =
        _mm512_div_ps(z, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_clamped(_mm512_sub_ps(_mm512_setzero_ps(), z))));
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

// Scores of every query head of a group for positions p..p+15 of their shared KV head
// (p a multiple of 16: one chunk of rows): the block's keys come from memory once and
// stay in L1 for the other heads; a head's 16 scores are reduced together.
static_assert(KvRows::kChunkRows == 16, "a block of 16 positions must be one chunk of cached rows");
template <int NV, typename Element>
void score_block(const float* q, int64_t n_heads, KvRows keys, int64_t p, int64_t n_pos, float scale, float* scores,
                 __m512* best) {
  const Element* block = keys.row_as<Element>(p);
  const int64_t count = std::min<int64_t>(16, n_pos - p);
  const auto valid = static_cast<__mmask16>((1u << count) - 1);
  for (int64_t h = 0; h < n_heads; ++h) {
    __m512 query[NV];
    for (int j = 0; j < NV; ++j) query[j] = _mm512_loadu_ps(q + h * 16 * NV + 16 * j);
    __m512 dots[16];
    for (int i = 0; i < 16; ++i) {
      dots[i] = _mm512_setzero_ps();
      if (i >= count) continue;
      const Element* key = block + i * keys.row_stride;
      for (int j = 0; j < NV; ++j) dots[i] = _mm512_fmadd_ps(query[j], load16(key + 16 * j), dots[i]);
    }
    const __m512 s = _mm512_mul_ps(sum_lanes_of_16(dots), _mm512_set1_ps(scale));
    _mm512_mask_storeu_ps(scores + h * n_pos + p, valid, s);
    best[h] = _mm512_mask_max_ps(best[h], valid, best[h], s);
  }
}

// Softmax of one head's scores in place (vectorized exp), already divided by their total.
void softmax_scores(float* scores, int64_t n_pos, __m512 best) {
  const __m512 max_score = _mm512_set1_ps(_mm512_reduce_max_ps(best));
  __m512 totals = _mm512_setzero_ps();
  for (int64_t p = 0; p < n_pos; p += 16) {
    const auto valid = static_cast<__mmask16>((1u << std::min<int64_t>(16, n_pos - p)) - 1);
    const __m512 e = exp_clamped(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, scores + p), max_score));
    _mm512_mask_storeu_ps(scores + p, valid, e);
    totals = _mm512_add_ps(totals, _mm512_maskz_mov_ps(valid, e));
  }
  const __m512 inv_total = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(totals));
  for (int64_t p = 0; p < n_pos; p += 16) {
    const auto valid = static_cast<__mmask16>((1u << std::min<int64_t>(16, n_pos - p)) - 1);
    _mm512_mask_storeu_ps(scores + p, valid, _mm512_mul_ps(_mm512_maskz_loadu_ps(valid, scores + p), inv_total));
  }
}

// out of G heads = sum_p weight_h(p) v_p: each value row is loaded once for the G heads.
// Positions alternate between two sets of accumulators, so that the additions are not
// one chain of dependent FMAs; each head sums in the same order whatever G is, so a
// head's output does not depend on how many heads share the call.
template <int G, int NV, typename Element>
void weigh_values(const float* weights, int64_t n_pos, KvRows values, float* out) {
  constexpr int kSets = 2;
  __m512 acc[kSets][G][NV];
  for (auto& set : acc)
    for (auto& head : set)
      for (auto& a : head) a = _mm512_setzero_ps();
  auto add_position = [&](int set, int64_t p) {
    __m512 v[NV];
    const Element* row = values.row_as<Element>(p);
    for (int j = 0; j < NV; ++j) v[j] = load16(row + 16 * j);
    for (int g = 0; g < G; ++g) {
      const __m512 weight = _mm512_set1_ps(weights[g * n_pos + p]);
      for (int j = 0; j < NV; ++j) acc[set][g][j] = _mm512_fmadd_ps(weight, v[j], acc[set][g][j]);
    }
  };
  int64_t p = 0;
  for (; p + kSets <= n_pos; p += kSets)
    for (int set = 0; set < kSets; ++set) add_position(set, p + set);
  for (; p < n_pos; ++p) add_position(0, p);
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < NV; ++j)
      _mm512_storeu_ps(out + g * 16 * NV + 16 * j, _mm512_add_ps(acc[0][g][j], acc[1][g][j]));
}

// Query heads in tiles of 12 / NV (at most 24 accumulators in the two sets, plus the
// value row and the weight: every register of the 32), so that a group of three heads
// of width 64 reads each value row once.
template <int NV, typename Element>
void weigh_values_all_heads(const float* weights, int64_t n_heads, int64_t n_pos, KvRows values, float* out) {
  constexpr int64_t kTile = std::max(1, 12 / NV);
  for (int64_t h = 0; h < n_heads; h += kTile) {
    const float* w = weights + h * n_pos;
    float* o = out + h * 16 * NV;
    switch (std::min(kTile, n_heads - h)) {
      case 6:
        if constexpr (kTile >= 6) weigh_values<6, NV, Element>(w, n_pos, values, o);
        break;
      case 5:
        if constexpr (kTile >= 5) weigh_values<5, NV, Element>(w, n_pos, values, o);
        break;
      case 4:
        if constexpr (kTile >= 4) weigh_values<4, NV, Element>(w, n_pos, values, o);
        break;
      case 3:
        if constexpr (kTile >= 3) weigh_values<3, NV, Element>(w, n_pos, values, o);
        break;
      case 2:
        if constexpr (kTile >= 2) weigh_values<2, NV, Element>(w, n_pos, values, o);
        break;
      default: weigh_values<1, NV, Element>(w, n_pos, values, o); break;
    }
  }
}

// Attention of n_heads query heads sharing one KV head, for head_dim = 16 * NV: keys and
// values are read once for the whole group (grouped-query attention).
constexpr int64_t kMaxGroupHeads = 64;

template <int NV, typename Element>
void attention_heads_registers(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos, float scale,
                               float* scores, float* out) {
  __m512 best[kMaxGroupHeads];
  for (int64_t h = 0; h < n_heads; ++h) best[h] = _mm512_set1_ps(-INFINITY);
  // Each call walks another layer's or sequence's cache, which the hardware prefetcher
  // meets cold: ask for every line of the first block's keys, then of the next block's
  // keys and this block's values (with an F16 cache a head's row is two lines; asking
  // for the first only left half the block to demand misses: batches of 8 ran 5% slower).
  constexpr int64_t kRowBytes = 16 * NV * sizeof(Element);
  auto prefetch_rows = [](KvRows rows, int64_t first, int64_t end) {
    for (int64_t i = first; i < end; ++i)
      for (int64_t line = 0; line < kRowBytes; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(rows.row_as<Element>(i)) + line, _MM_HINT_T0);
  };
  prefetch_rows(keys, 0, std::min<int64_t>(n_pos, 16));
  for (int64_t p = 0; p < n_pos; p += 16) {
    prefetch_rows(keys, p + 16, std::min(n_pos, p + 32));
    prefetch_rows(values, p, std::min(n_pos, p + 16));
    score_block<NV, Element>(q, n_heads, keys, p, n_pos, scale, scores, best);
  }
  for (int64_t h = 0; h < n_heads; ++h) softmax_scores(scores + h * n_pos, n_pos, best[h]);
  weigh_values_all_heads<NV, Element>(scores, n_heads, n_pos, values, out);
}

template <typename Element>
void attention_heads_typed(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos, int64_t head_dim,
                           float scale, float* scores, float* out) {
  if (n_heads <= kMaxGroupHeads) switch (head_dim) {
      case 32: return attention_heads_registers<2, Element>(q, n_heads, keys, values, n_pos, scale, scores, out);
      case 64: return attention_heads_registers<4, Element>(q, n_heads, keys, values, n_pos, scale, scores, out);
      case 96: return attention_heads_registers<6, Element>(q, n_heads, keys, values, n_pos, scale, scores, out);
      case 128: return attention_heads_registers<8, Element>(q, n_heads, keys, values, n_pos, scale, scores, out);
      default: break;
    }
  attention_heads_impl<Avx512Rows>(q, n_heads, keys, values, n_pos, head_dim, scale, scores, out);
}

void attention_heads_avx512(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos,
                            int64_t head_dim, float scale, float* scores, float* out) {
  if (keys.type == KvType::F16)
    return attention_heads_typed<uint16_t>(q, n_heads, keys, values, n_pos, head_dim, scale, scores, out);
  attention_heads_typed<float>(q, n_heads, keys, values, n_pos, head_dim, scale, scores, out);
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
  static const KernelTable table{Isa::Avx512,
                                 TernaryLayout::TritTriples,
                                 kMaxExactInput,
                                 prepared_bytes_avx512,
                                 prepare_ternary_avx512,
                                 matmul_ternary_avx512,
                                 matmul_dense_avx512,
                                 Avx512Rows::dot<float>,
                                 Avx512Rows::axpy<float>,
                                 attention_heads_avx512,
                                 quantize_row_avx512,
                                 silu_gate_avx512,
                                 matmul_q8_groups_avx512,
                                 to_f16_avx512};
  return table;
}

}  // namespace tern
