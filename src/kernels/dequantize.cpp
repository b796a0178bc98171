#include "kernels/dequantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/float16.h"
#include "tern/error.h"

namespace tern {
namespace {

constexpr int kQ8Block = 32;
constexpr int kQ8BlockBytes = 34;  // f16 scale + 32 int8

void dequantize_q8_0(const uint8_t* row, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const uint8_t* block = row + b * kQ8BlockBytes;
    uint16_t d16;
    std::memcpy(&d16, block, 2);
    const float d = f16_to_f32(d16);
    const auto* q = reinterpret_cast<const int8_t*>(block + 2);
    for (int i = 0; i < kQ8Block; ++i) out[b * kQ8Block + i] = d * static_cast<float>(q[i]);
  }
}

void quantize_q8_0(std::span<const float> row, std::vector<uint8_t>& out) {
  for (size_t b = 0; b < row.size() / kQ8Block; ++b) {
    const float* x = row.data() + b * kQ8Block;
    float amax = 0;
    for (int i = 0; i < kQ8Block; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float inv = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t d16 = f32_to_f16(d);
    out.push_back(static_cast<uint8_t>(d16 & 0xff));
    out.push_back(static_cast<uint8_t>(d16 >> 8));
    for (int i = 0; i < kQ8Block; ++i) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::nearbyint(x[i] * inv))));
  }
}

template <typename T>
void append_raw(std::vector<uint8_t>& out, T value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

void dequantize_row(TensorType type, const uint8_t* row, float* out, int64_t n) {
  switch (type) {
    case TensorType::F32:
      std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      return;
    case TensorType::Q8_0:
      dequantize_q8_0(row, out, n);
      return;
    default:
      fail("internal: dequantize_row does not take {}", tensor_type_name(type));
  }
}

void quantize_row(TensorType type, std::span<const float> row, std::vector<uint8_t>& out) {
  switch (type) {
    case TensorType::F32:
      for (float v : row) append_raw(out, v);
      return;
    case TensorType::F16:
      for (float v : row) append_raw(out, f32_to_f16(v));
      return;
    case TensorType::BF16:
      for (float v : row) append_raw(out, f32_to_bf16(v));
      return;
    case TensorType::Q8_0:
      if (row.size() % kQ8Block != 0) fail("Q8_0 needs rows that are a multiple of 32, got {}", row.size());
      quantize_q8_0(row, out);
      return;
    default:
      fail("internal: quantize_row does not take {}", tensor_type_name(type));
  }
}

}  // namespace tern
