#pragma once
// A ternary weight matrix in memory, in the one layout every kernel starts from:
// 2-bit codes (weight + 1) packed four to a byte, rows padded to 64 bytes so that
// SIMD kernels can read whole vectors, plus one scale per row group.
#include <cstdint>
#include <vector>

#include "kernels/ternary_formats.h"

namespace tern {

struct TernaryMatrix {
  static constexpr int64_t kRowAlign = 64;

  int64_t n_in = 0;        // columns (input length)
  int64_t n_rows = 0;      // rows (output length)
  int64_t group = 0;       // weights per scale along a row
  int64_t row_stride = 0;  // bytes per packed row (>= n_in / 4, multiple of 64)
  std::vector<uint8_t> codes;  // [n_rows, row_stride]: weight c of row r at byte c/4, bits 2(c%4)+1..2(c%4), as w+1
  std::vector<float> scales;   // [n_rows, n_in / group]

  static TernaryMatrix from_weights(const TernaryWeights& w);
  int64_t groups_per_row() const { return n_in / group; }
  int8_t weight(int64_t row, int64_t col) const {
    return static_cast<int8_t>(((codes[row * row_stride + col / 4] >> (2 * (col % 4))) & 3) - 1);
  }
  uint64_t bytes() const { return codes.size() + scales.size() * sizeof(float); }
};

}  // namespace tern
