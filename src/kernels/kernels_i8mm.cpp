// ARM64 kernels with the int8 matrix-multiply extension (ARMv8.6-A, FEAT_I8MM: SMMLA),
// compiled with -march=armv8.2-a+dotprod+i8mm and chosen only when HWCAP2_I8MM (and
// the dot product) is set. The dotprod table's entries, with the ternary product of
// two or more tokens replaced:
//
// SMMLA multiplies a 2x8 int8 matrix by an 8x2 one into a 2x2 int32 tile: two rows'
// eight weights against two tokens' eight activations, 32 products per instruction
// (SDOT: 16). Two rows' code bytes are interleaved 8 bytes at a time (ZIP1/ZIP2 of
// 64-bit lanes) before decoding, so the weight decoder (neon_ternary.h) yields the
// row-pair operands directly; two tokens' activations are interleaved the same way,
// once per plane for all the row pairs of a tile. The four lanes of a tile are the
// outputs themselves: no horizontal sums. Single tokens and odd leftovers (a last row
// or token) go to the dotprod kernel.
#include <arm_neon.h>

#include "kernels/kernels.h"
#include "kernels/neon_ternary.h"

namespace tern {
namespace {

inline uint8x16_t zip_low(uint8x16_t a, uint8x16_t b) {
  return vreinterpretq_u8_u64(vzip1q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}
inline uint8x16_t zip_high(uint8x16_t a, uint8x16_t b) {
  return vreinterpretq_u8_u64(vzip2q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}
inline int8x16_t zip_low(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
inline int8x16_t zip_high(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

struct SmmlaKernel {
  static constexpr int64_t kMaxChunks = int64_t{1} << 24;  // int32 lanes, as SDOT's

  // R rows (even) x T tokens (even): R / 2 * T / 2 tiles.
  template <int R, int T>
  [[gnu::always_inline]] static void add(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T], int64_t c0,
                                         int64_t c1, int32_t (&sums)[R][T]) {
    static_assert(R % 2 == 0 && T % 2 == 0);
    constexpr int RP = R / 2, TP = T / 2;
    const TritDecoder decode;
    int32x4_t acc[RP][TP];
    for (int i = 0; i < RP; ++i)
      for (int j = 0; j < TP; ++j) acc[i][j] = vdupq_n_s32(0);
    for (int64_t c = c0; c < c1; ++c) {
      uint8x16_t low[RP], high[RP];  // row pair i: bytes 0-7 of both rows, bytes 8-15 of both rows
      for (int i = 0; i < RP; ++i) {
        const uint8x16_t a = vld1q_u8(rows[2 * i] + c * TernaryMatrix::kChunkBytes);
        const uint8x16_t b = vld1q_u8(rows[2 * i + 1] + c * TernaryMatrix::kChunkBytes);
        low[i] = zip_low(a, b);
        high[i] = zip_high(a, b);
      }
      plane<0>(decode, low, high, acts, c, acc);
      plane<1>(decode, low, high, acts, c, acc);
      plane<2>(decode, low, high, acts, c, acc);
      plane<3>(decode, low, high, acts, c, acc);
    }
    // Tile (i, j) lanes: (row 2i, token 2j), (2i, 2j + 1), (2i + 1, 2j), (2i + 1, 2j + 1).
    for (int i = 0; i < RP; ++i)
      for (int j = 0; j < TP; ++j) {
        sums[2 * i][2 * j] += vgetq_lane_s32(acc[i][j], 0);
        sums[2 * i][2 * j + 1] += vgetq_lane_s32(acc[i][j], 1);
        sums[2 * i + 1][2 * j] += vgetq_lane_s32(acc[i][j], 2);
        sums[2 * i + 1][2 * j + 1] += vgetq_lane_s32(acc[i][j], 3);
      }
  }

  template <int P, int RP, int T, int TP = T / 2>
  [[gnu::always_inline]] static void plane(const TritDecoder& decode, const uint8x16_t (&low)[RP],
                                           const uint8x16_t (&high)[RP], const int8_t* const (&acts)[T], int64_t c,
                                           int32x4_t (&acc)[RP][TP]) {
    int8x16_t a_low[TP], a_high[TP];
    for (int j = 0; j < TP; ++j) {
      const int8x16_t a = vld1q_s8(acts[2 * j] + c * kChunk + 16 * P);
      const int8x16_t b = vld1q_s8(acts[2 * j + 1] + c * kChunk + 16 * P);
      a_low[j] = zip_low(a, b);
      a_high[j] = zip_high(a, b);
    }
    for (int i = 0; i < RP; ++i) {
      const int8x16_t w_low = decode.plane<P>(low[i]), w_high = decode.plane<P>(high[i]);
      for (int j = 0; j < TP; ++j) {
        acc[i][j] = vmmlaq_s32(acc[i][j], w_low, a_low[j]);
        acc[i][j] = vmmlaq_s32(acc[i][j], w_high, a_high[j]);
      }
    }
  }
};

// Tokens [t0, t0 + T) over rows [row_begin, row_end) in tiles of 8 rows (4 for two
// tokens: 8 x 2 spills in GCC 12's code), then pairs; returns the end of the rows
// covered (a last odd row is left).
template <int T>
int64_t smmla_rows(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end, int64_t t0,
                   float* y, int64_t y_stride) {
  constexpr int kRows = T == 4 ? 8 : 4;
  int64_t r = row_begin;
  for (; r + kRows <= row_end; r += kRows) ternary_tile<SmmlaKernel, kRows, T>(w, x, r, t0, y, y_stride);
  for (; r + 2 <= row_end; r += 2) ternary_tile<SmmlaKernel, 2, T>(w, x, r, t0, y, y_stride);
  return r;
}

// Tokens [t0, n_tok) of x, as their own activations.
PreparedActivations tokens_from(const PreparedActivations& x, int64_t t0) {
  return {x.q + t0 * x.stride, x.scale + t0, x.stride, x.n_tok - t0};
}

void matmul_ternary_i8mm(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end,
                         float* y, int64_t y_stride) {
  const auto dotprod = dotprod_kernels().matmul_ternary;
  int64_t t = 0, paired_end = row_begin;
  for (; t + 4 <= x.n_tok; t += 4) paired_end = smmla_rows<4>(w, x, row_begin, row_end, t, y, y_stride);
  if (t + 2 <= x.n_tok) {
    paired_end = smmla_rows<2>(w, x, row_begin, row_end, t, y, y_stride);
    t += 2;
  }
  // The last odd row for the paired tokens, then a last odd token (or the only one) for all rows.
  if (t > 0 && paired_end < row_end)
    dotprod(w, PreparedActivations{x.q, x.scale, x.stride, t}, paired_end, row_end, y, y_stride);
  if (t < x.n_tok) dotprod(w, tokens_from(x, t), row_begin, row_end, y + t * y_stride, y_stride);
}

}  // namespace

const KernelTable& i8mm_kernels() {
  static const KernelTable table = [] {
    KernelTable t = dotprod_kernels();
    t.isa = Isa::I8mm;
    t.matmul_ternary = matmul_ternary_i8mm;
    return t;
  }();
  return table;
}

}  // namespace tern
