#include "kernels/q8_row_groups.h"

#include <cstring>

namespace tern {

Q8RowGroups Q8RowGroups::allocate(int64_t n_in, int64_t n_rows) {
  Q8RowGroups p;
  p.n_in = n_in;
  p.n_rows = n_rows;
  p.weights.assign(static_cast<size_t>(p.groups() * n_in * kGroupRows), 128);  // rows past n_rows: w = 0
  p.scales.assign(static_cast<size_t>(p.groups() * p.blocks() * kGroupRows), uint16_t{0});
  return p;
}

void Q8RowGroups::pack_rows(const uint8_t* data, int64_t row_begin, int64_t row_end) {
  const int64_t n_blocks = blocks(), row_bytes = n_blocks * 34;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t g = r / kGroupRows, lane = r % kGroupRows;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* block = data + r * row_bytes + b * 34;
      uint16_t scale_bits;
      std::memcpy(&scale_bits, block, 2);
      // Four inputs at a time: the row's 4 bytes of one 64-byte group vector; w + 128 is
      // the int8 weight with its sign bit flipped.
      uint32_t four;
      uint8_t* out = weights.data() + ((g * (n_in / 4) + b * (kBlock / 4)) * kGroupRows + lane) * 4;
      for (int64_t k4 = 0; k4 < kBlock / 4; ++k4) {
        std::memcpy(&four, block + 2 + 4 * k4, 4);
        four ^= 0x80808080u;
        std::memcpy(out + k4 * kGroupRows * 4, &four, 4);
      }
      scales[static_cast<size_t>((g * n_blocks + b) * kGroupRows + lane)] = scale_bits;
    }
  }
}

Q8RowGroups Q8RowGroups::from_q8_0(const uint8_t* data, int64_t n_in, int64_t n_rows) {
  Q8RowGroups p = allocate(n_in, n_rows);
  p.pack_rows(data, 0, n_rows);
  return p;
}

}  // namespace tern
