#pragma once
// A ternary weight matrix in memory, in the one layout every kernel (scalar, AVX2,
// AVX-512) reads. Rows are padded with zero weights to a multiple of 64 and cut into
// "small chunks" of 64 weights = 16 bytes. Byte j (0..15) of a chunk holds the four
// weights j, j+16, j+32, j+48 of that chunk, weight j+16g in bits 2g and 2g+1:
//   bit 2g   set: weight +1     bit 2g+1 set: weight -1     neither: 0
// Two bit-planes per weight, so a kernel turns a byte vector into "add" and
// "subtract" masks with one test each, and never multiplies by a weight.
#include <cstdint>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/ternary_formats.h"

namespace tern {

struct TernaryMatrix {
  static constexpr int64_t kChunkWeights = 64;
  static constexpr int64_t kChunkBytes = 16;

  int64_t n_in = 0;         // columns (input length)
  int64_t n_in_padded = 0;  // n_in rounded up to a multiple of 64
  int64_t n_rows = 0;       // rows (output length)
  int64_t group = 0;        // weights per scale along a row: n_in, or 256 (TQ blocks)
  int64_t row_stride = 0;   // bytes per row = n_in_padded / 4
  AlignedBuffer<uint8_t> codes;  // [n_rows, row_stride]
  std::vector<float> scales;     // [n_rows, n_in / group]
  // Number of -1 weights per row group: kernels that sum the bitwise complement ~q
  // (= -q - 1) for -1 weights add this back to get exact sums.
  std::vector<int32_t> minus_counts;  // [n_rows, n_in / group]

  static TernaryMatrix from_weights(const TernaryWeights& w);
  int64_t groups_per_row() const { return n_in / group; }
  int8_t weight(int64_t row, int64_t col) const {
    const int64_t chunk = col / kChunkWeights, within = col % kChunkWeights;
    const int shift = static_cast<int>(2 * (within / kChunkBytes));
    const uint8_t byte = codes[static_cast<size_t>(row * row_stride + chunk * kChunkBytes + within % kChunkBytes)];
    return static_cast<int8_t>(((byte >> shift) & 1) - ((byte >> (shift + 1)) & 1));
  }
  uint64_t bytes() const { return codes.size() + scales.size() * sizeof(float); }
};

}  // namespace tern
