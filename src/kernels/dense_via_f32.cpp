#include "kernels/dense_via_f32.h"

#include <algorithm>
#include <vector>

#include "kernels/dequantize.h"

namespace tern {

void matmul_dense_via_f32(DenseProduct f32_product, TensorType type, const uint8_t* data, int64_t n_in, const float* x,
                          int64_t x_stride, int64_t n_tok, int64_t row_begin, int64_t row_end, float* y,
                          int64_t y_stride) {
  // 16 rows at a time: small enough to stay in L1/L2 between dequantizing and the
  // product, enough rows for the F32 kernel's tiles.
  constexpr int64_t kRows = 16;
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  std::vector<float> rows(static_cast<size_t>(kRows * n_in));  // [kRows, n_in]
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRows) {
    const int64_t count = std::min(kRows, row_end - r0);
    for (int64_t r = 0; r < count; ++r) dequantize_row(type, data + (r0 + r) * stride, rows.data() + r * n_in, n_in);
    // Row r of the stretch is row r0 + r of y: offset y so the stretch's rows start at 0.
    f32_product(TensorType::F32, reinterpret_cast<const uint8_t*>(rows.data()), n_in, x, x_stride, n_tok, 0, count,
                y + r0, y_stride);
  }
}

}  // namespace tern
