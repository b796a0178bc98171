#include "kernels/matvec_ref.h"

#include "kernels/dequantize.h"

namespace tern {

void ternary_row_sums_ref(const TernaryMatrix& w, const int8_t* q, int32_t* acc) {
  const int64_t groups = w.groups_per_row();
  for (int64_t r = 0; r < w.n_rows; ++r) {
    const uint8_t* row = w.codes.data() + r * w.row_stride;
    for (int64_t g = 0; g < groups; ++g) {
      int32_t sum = 0;
      for (int64_t c = g * w.group; c < (g + 1) * w.group; ++c) {
        const int code = (row[c / 4] >> (2 * (c % 4))) & 3;  // 0: -1, 1: 0, 2: +1
        if (code == 2) sum += q[c];
        else if (code == 0) sum -= q[c];
      }
      acc[r * groups + g] = sum;
    }
  }
}

void ternary_matvec_ref(const TernaryMatrix& w, const QuantizedActivations& x, int32_t* acc, float* y) {
  ternary_row_sums_ref(w, x.q.data(), acc);
  const int64_t groups = w.groups_per_row();
  for (int64_t r = 0; r < w.n_rows; ++r) {
    float sum = 0;
    for (int64_t g = 0; g < groups; ++g) sum += w.scales[r * groups + g] * static_cast<float>(acc[r * groups + g]);
    y[r] = sum * x.scale;
  }
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
