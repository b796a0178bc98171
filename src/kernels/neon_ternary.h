#pragma once
// The ARM64 ternary product's shared parts, for kernels_neon.cpp, kernels_dotprod.cpp
// and kernels_i8mm.cpp. Everything here has internal linkage (an unnamed namespace):
// each of those files is compiled with its own -march, and one file's copy must never
// stand in for another's (a dotprod instruction reaching a CPU without it).
//
// The weights stay in the scalar BitPlanes layout (ternary_matrix.h), which suits 16-byte
// NEON vectors: byte j of a 64-weight chunk holds weights j, j+16, j+32, j+48, so plane
// p of one 16-byte code load pairs with the 16 activations at 64k + 16p, a plain load
// (no reordering: the prepared activations are the quantized ones as they are).
// A plane's two bits, shifted and masked to a 4-bit index, pick the weight as a signed
// byte with one TBL from {0, +1, -1, 0} (repeated over the 16 entries, so the bits above
// the plane's two never matter): two or three instructions turn 16 codes into 16 int8
// weights, which each kernel then multiplies into int16 (SMLAL), int32 (SDOT) or 2x2
// int32 tiles (SMMLA) per token. The multiplies only ever see weights -1, 0 and +1.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "kernels/kernels.h"

namespace tern {
namespace {

constexpr int64_t kChunk = TernaryMatrix::kChunkWeights;  // 64 weights, 16 code bytes

// 16 int8 weights of plane P (0..3) from 16 code bytes.
struct TritDecoder {
  int8x16_t lut = vreinterpretq_s8_u32(vdupq_n_u32(0x00ff0100u));  // index & 3: 0 -> 0, 1 -> +1, 2 -> -1
  uint8x16_t low4 = vdupq_n_u8(0x0f);

  template <int P>
  [[gnu::always_inline]] int8x16_t plane(uint8x16_t codes) const {
    uint8x16_t index;
    if constexpr (P == 0) index = vandq_u8(codes, low4);
    else if constexpr (P == 1) index = vandq_u8(vshrq_n_u8(codes, 2), low4);
    else index = vshrq_n_u8(codes, 2 * P);  // 0..15 for P = 2, 0..3 for P = 3
    return vqtbl1q_s8(lut, index);
  }
};

// The R x T integer sums of rows[r] against acts[t] over chunks [c0, c1), for a kernel
// that multiplies one plane's 16 int8 weights by 16 activations into an accumulator:
// Product::Acc (zero()), Product::multiply_add(acc, weights, activations), Product::total(acc).
template <typename Product, int R, int T>
[[gnu::always_inline]] inline void add_plane_products(const uint8_t* const (&rows)[R], const int8_t* const (&acts)[T],
                                                      int64_t c0, int64_t c1, int32_t (&sums)[R][T]) {
  const TritDecoder decode;
  typename Product::Acc acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = Product::zero();
  auto plane = [&]<int P>(const uint8x16_t(&codes)[R], int64_t c) {
    int8x16_t weights[R];
    for (int r = 0; r < R; ++r) weights[r] = decode.plane<P>(codes[r]);
    for (int t = 0; t < T; ++t) {
      const int8x16_t a = vld1q_s8(acts[t] + c * kChunk + 16 * P);
      for (int r = 0; r < R; ++r) acc[r][t] = Product::multiply_add(acc[r][t], weights[r], a);
    }
  };
  for (int64_t c = c0; c < c1; ++c) {
    uint8x16_t codes[R];
    for (int r = 0; r < R; ++r) codes[r] = vld1q_u8(rows[r] + c * TernaryMatrix::kChunkBytes);
    plane.template operator()<0>(codes, c);
    plane.template operator()<1>(codes, c);
    plane.template operator()<2>(codes, c);
    plane.template operator()<3>(codes, c);
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) sums[r][t] += Product::total(acc[r][t]);
}

// The R x T integer sums of rows[r] against acts[t] over chunks [c0, c1) come from
// Kernel::add<R, T>(rows, acts, c0, c1, sums), which adds them into sums[r][t]; it takes
// at most Kernel::kMaxChunks chunks per call (its narrow accumulators' limit).
// ternary_tile turns them into outputs exactly as ternary_rescale does: per group, in
// order, sum += scale * float(integer sum); then y = sum * activation scale.
template <typename Kernel, int R, int T>
void ternary_tile(const TernaryMatrix& w, const PreparedActivations& x, int64_t r0, int64_t t0, float* y,
                  int64_t y_stride) {
  const uint8_t* rows[R];
  const int8_t* acts[T];
  for (int r = 0; r < R; ++r) rows[r] = w.codes.data() + (r0 + r) * w.row_stride;
  for (int t = 0; t < T; ++t) acts[t] = x.q + (t0 + t) * x.stride;
  const int64_t groups = w.groups_per_row();
  const int64_t chunks = w.n_in_padded / kChunk;
  // TQ blocks: a group is 4 whole chunks (n_in a multiple of 256); otherwise one group.
  const int64_t group_chunks = groups > 1 ? w.group / kChunk : chunks;
  float sums[R][T] = {};
  for (int64_t g = 0; g < groups; ++g) {
    int32_t isum[R][T] = {};
    const int64_t end = (g + 1) * group_chunks;
    for (int64_t c = g * group_chunks; c < end; c += Kernel::kMaxChunks)
      Kernel::template add<R, T>(rows, acts, c, std::min(end, c + Kernel::kMaxChunks), isum);
    for (int r = 0; r < R; ++r) {
      const float scale = w.scales[static_cast<size_t>((r0 + r) * groups + g)];
      for (int t = 0; t < T; ++t) {
        float product = scale * static_cast<float>(isum[r][t]);
        asm("" : "+w"(product));  // rounded on its own: never fused with the add (bit-identity with scalar)
        sums[r][t] += product;
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r0 + r] = sums[r][t] * x.scale[t0 + t];
}

// Rows [row_begin, row_end) in tiles of R against tokens [t0, t0 + T); leftovers one row at a time.
template <typename Kernel, int R, int T>
void ternary_rows(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end, int64_t t0,
                  float* y, int64_t y_stride) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) ternary_tile<Kernel, R, T>(w, x, r, t0, y, y_stride);
  for (; r < row_end; ++r) ternary_tile<Kernel, 1, T>(w, x, r, t0, y, y_stride);
}

// Tokens in tiles of 4 (each decoded weight serves 4 tokens), the rest as one tile of
// 3, 2 or 1; Kernel::kRowsFor<T> rows per tile (a single token takes more rows, so each
// activation load serves several).
template <typename Kernel>
void ternary_matmul(const TernaryMatrix& w, const PreparedActivations& x, int64_t row_begin, int64_t row_end, float* y,
                    int64_t y_stride) {
  int64_t t = 0;
  for (; t + 4 <= x.n_tok; t += 4)
    ternary_rows<Kernel, Kernel::template kRowsFor<4>, 4>(w, x, row_begin, row_end, t, y, y_stride);
  switch (x.n_tok - t) {
    case 3: ternary_rows<Kernel, Kernel::template kRowsFor<3>, 3>(w, x, row_begin, row_end, t, y, y_stride); break;
    case 2: ternary_rows<Kernel, Kernel::template kRowsFor<2>, 2>(w, x, row_begin, row_end, t, y, y_stride); break;
    case 1: ternary_rows<Kernel, Kernel::template kRowsFor<1>, 1>(w, x, row_begin, row_end, t, y, y_stride); break;
    default: break;
  }
}

}  // namespace
}  // namespace tern
