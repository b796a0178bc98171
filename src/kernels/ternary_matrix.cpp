#include "kernels/ternary_matrix.h"

#include "tern/error.h"

namespace tern {

TernaryMatrix TernaryMatrix::from_weights(const TernaryWeights& w) {
  if (w.group != w.n_in && !(w.group == kTernaryBlock && w.n_in % kTernaryBlock == 0))
    fail("internal: ternary scale groups of {} weights on rows of {}", w.group, w.n_in);
  TernaryMatrix m;
  m.n_in = w.n_in;
  m.n_in_padded = (w.n_in + kChunkWeights - 1) / kChunkWeights * kChunkWeights;
  m.n_rows = w.n_rows;
  m.group = w.group;
  m.row_stride = m.n_in_padded / 4;
  m.codes.assign(static_cast<size_t>(m.row_stride * m.n_rows), 0);
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t c = 0; c < w.n_in; ++c) {
      const int8_t value = w.weights[r * w.n_in + c];
      if (value == 0) continue;
      const int64_t chunk = c / kChunkWeights, within = c % kChunkWeights;
      const int shift = static_cast<int>(2 * (within / kChunkBytes)) + (value < 0 ? 1 : 0);
      m.codes[static_cast<size_t>(r * m.row_stride + chunk * kChunkBytes + within % kChunkBytes)] |=
          static_cast<uint8_t>(1u << shift);
    }
  m.scales = w.scales;
  m.minus_counts.assign(static_cast<size_t>(w.n_rows * m.groups_per_row()), 0);
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t c = 0; c < w.n_in; ++c)
      if (w.weights[r * w.n_in + c] < 0) ++m.minus_counts[static_cast<size_t>(r * m.groups_per_row() + c / w.group)];
  return m;
}

}  // namespace tern
