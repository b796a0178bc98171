#include "kernels/matvec_ref.h"

#include "kernels/dequantize.h"

namespace tern {

void ternary_row_sums_ref(const TernaryMatrix& w, const int8_t* q, int32_t* acc) {
  for (int64_t r = 0; r < w.n_rows; ++r) ternary_row_sums_ref(w, r, q, acc + r * w.groups_per_row());
}

void ternary_row_sums_ref(const TernaryMatrix& w, int64_t r, const int8_t* q, int32_t* acc) {
  const int64_t groups = w.groups_per_row();
  for (int64_t g = 0; g < groups; ++g) acc[g] = 0;
  if (w.layout != TernaryLayout::BitPlanes) {  // any other layout: through its decoder
    for (int64_t col = 0; col < w.n_in; ++col) {
      const int8_t weight = w.weight(r, col);
      if (weight > 0) acc[col / w.group] += q[col];
      if (weight < 0) acc[col / w.group] -= q[col];
    }
    return;
  }
  const uint8_t* row = w.codes.data() + r * w.row_stride;
  // Walk the row's bytes; byte j of chunk k holds weights 64k + j + 16p, p = 0..3.
  for (int64_t k = 0; k < w.n_in_padded / TernaryMatrix::kChunkWeights; ++k)
    for (int64_t j = 0; j < TernaryMatrix::kChunkBytes; ++j) {
      const uint8_t byte = row[k * TernaryMatrix::kChunkBytes + j];
      for (int p = 0; p < 4; ++p) {
        const int64_t col = k * TernaryMatrix::kChunkWeights + 16 * p + j;
        if (col >= w.n_in) continue;
        int32_t& sum = acc[col / w.group];
        if (byte & (1u << (2 * p))) sum += q[col];  // weight +1: add
        if (byte & (2u << (2 * p))) sum -= q[col];  // weight -1: subtract
      }
    }
}

float ternary_rescale(const TernaryMatrix& w, int64_t r, const int32_t* acc, float activation_scale) {
  const int64_t groups = w.groups_per_row();
  float sum = 0;
  for (int64_t g = 0; g < groups; ++g) sum += w.scales[r * groups + g] * static_cast<float>(acc[g]);
  return sum * activation_scale;
}

void ternary_matvec_ref(const TernaryMatrix& w, const QuantizedActivations& x, int32_t* acc, float* y) {
  ternary_row_sums_ref(w, x.q.data(), acc);
  for (int64_t r = 0; r < w.n_rows; ++r) y[r] = ternary_rescale(w, r, acc + r * w.groups_per_row(), x.scale);
}

void float_matvec_ref(TensorType type, const uint8_t* data, int64_t n_in, int64_t n_rows, const float* x,
                      float* row_scratch, float* y) {
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  for (int64_t r = 0; r < n_rows; ++r) {
    dequantize_row(type, data + r * stride, row_scratch, n_in);
    float sum = 0;
    for (int64_t i = 0; i < n_in; ++i) sum += row_scratch[i] * x[i];
    y[r] = sum;
  }
}

}  // namespace tern
