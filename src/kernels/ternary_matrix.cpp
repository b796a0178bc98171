#include "kernels/ternary_matrix.h"

namespace tern {

TernaryMatrix TernaryMatrix::from_weights(const TernaryWeights& w) {
  TernaryMatrix m;
  m.n_in = w.n_in;
  m.n_rows = w.n_rows;
  m.group = w.group;
  m.row_stride = ((w.n_in + 3) / 4 + kRowAlign - 1) / kRowAlign * kRowAlign;
  m.codes.assign(static_cast<size_t>(m.row_stride * m.n_rows), 0x55);  // code 1 = weight 0 in the padding
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t c = 0; c < w.n_in; ++c) {
      uint8_t& byte = m.codes[r * m.row_stride + c / 4];
      const int shift = 2 * (c % 4);
      byte = static_cast<uint8_t>((byte & ~(3 << shift)) | ((w.weights[r * w.n_in + c] + 1) << shift));
    }
  m.scales = w.scales;
  return m;
}

}  // namespace tern
