#include "kernels/q8_row_groups.h"

#include <cstring>

#include "kernels/float16.h"

namespace tern {

Q8RowGroups Q8RowGroups::from_q8_0(const uint8_t* data, int64_t n_in, int64_t n_rows,
                                   const std::function<void(std::span<const uint8_t>)>& done_with) {
  constexpr int64_t kRowsPerRelease = 1024;
  Q8RowGroups p;
  p.n_in = n_in;
  p.n_rows = n_rows;
  const int64_t groups = p.groups(), blocks = p.blocks();
  const int64_t row_bytes = blocks * 34;
  p.weights.assign(static_cast<size_t>(groups * n_in * kGroupRows), 128);  // rows past n_rows: w = 0
  p.scales.assign(static_cast<size_t>(groups * blocks * kGroupRows), 0.0f);
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t g = r / kGroupRows, lane = r % kGroupRows;
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* block = data + r * row_bytes + b * 34;
      uint16_t scale_bits;
      std::memcpy(&scale_bits, block, 2);
      // Four inputs at a time: the row's 4 bytes of one 64-byte group vector; w + 128 is
      // the int8 weight with its sign bit flipped.
      uint32_t four;
      uint8_t* out = p.weights.data() + ((g * (n_in / 4) + b * (kBlock / 4)) * kGroupRows + lane) * 4;
      for (int64_t k4 = 0; k4 < kBlock / 4; ++k4) {
        std::memcpy(&four, block + 2 + 4 * k4, 4);
        four ^= 0x80808080u;
        std::memcpy(out + k4 * kGroupRows * 4, &four, 4);
      }
      p.scales[static_cast<size_t>((g * blocks + b) * kGroupRows + lane)] = f16_to_f32(scale_bits);
    }
    const bool chunk_end = (r + 1) % kRowsPerRelease == 0 || r + 1 == n_rows;
    if (done_with && chunk_end) {
      const int64_t first = r / kRowsPerRelease * kRowsPerRelease;
      done_with({data + first * row_bytes, static_cast<size_t>((r + 1 - first) * row_bytes)});
    }
  }
  return p;
}

}  // namespace tern
