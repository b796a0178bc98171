#include "kernels/ternary_formats.h"

#include <cmath>
#include <cstring>
#include <string>

#include "kernels/float16.h"
#include "tern/error.h"

namespace tern {
namespace {

// TQ1_0 stores five trits per byte as ceil(v * 256 / 243) of their base-3 value v, so
// that trit n can be read back with a multiply and a shift: ((u8)(byte * 3^n) * 3) >> 8.
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

int8_t tq1_trit(uint8_t byte, int n) {
  const auto shifted = static_cast<uint8_t>(byte * kPow3[n]);
  return static_cast<int8_t>(((uint16_t{shifted} * 3) >> 8) - 1);
}

uint8_t tq1_pack(const int8_t* w, int stride, int count) {
  uint16_t v = 0;
  for (int n = 0; n < 5; ++n) v = static_cast<uint16_t>(v * 3 + (n < count ? w[n * stride] + 1 : 0));
  return static_cast<uint8_t>((v * 256 + 242) / 243);
}

float read_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

void write_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

void check_scale(float scale, const std::string& tensor) {
  if (!std::isfinite(scale)) fail("tensor '{}': ternary scale is {}, expected a finite number", tensor, scale);
}

// TERN2 / TERN2R rows: weight c of a row in byte c/4, bits 2(c%4)+1..2(c%4), as code w + 1.
void decode_tern2_codes(std::span<const uint8_t> data, int64_t n_in, int64_t n_rows, const std::string& tensor,
                        std::vector<int8_t>& weights) {
  const int64_t stride = (n_in + 3) / 4;
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t c = 0; c < n_in; ++c) {
      const int code = (data[r * stride + c / 4] >> (2 * (c % 4))) & 3;
      if (code == 3) fail("tensor '{}': invalid TERN2 code 3 at row {}, column {}", tensor, r, c);
      weights[r * n_in + c] = static_cast<int8_t>(code - 1);
    }
}

std::vector<uint8_t> encode_tern2_codes(const TernaryWeights& w) {
  const int64_t stride = (w.n_in + 3) / 4;
  std::vector<uint8_t> out(static_cast<size_t>(stride * w.n_rows), 0x55);  // code 1 (zero) everywhere, incl. row tails
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t c = 0; c < w.n_in; ++c) {
      uint8_t& byte = out[r * stride + c / 4];
      const int shift = 2 * (c % 4);
      byte = static_cast<uint8_t>((byte & ~(3 << shift)) | ((w.weights[r * w.n_in + c] + 1) << shift));
    }
  return out;
}

// I2_S (bitnet.cpp): the tensor's weights, flattened row by row, go in blocks of 128 =
// 32 bytes; weight j of a block is in byte j % 32 at bits 7-2(j/32) .. 6-2(j/32), as
// code w + 1 (0 = -1, 1 = 0, 2 = +1; 3 is invalid).
void decode_i2_s(std::span<const uint8_t> data, int64_t n, const std::string& tensor, std::vector<int8_t>& weights) {
  constexpr int64_t kBlock = 128, kBlockBytes = 32;
  for (int64_t b = 0; b < n / kBlock; ++b)
    for (int64_t j = 0; j < kBlock; ++j) {
      const int code = (data[b * kBlockBytes + j % 32] >> (6 - 2 * (j / 32))) & 3;
      if (code == 3) fail("tensor '{}': invalid I2_S code 3 at weight {}", tensor, b * kBlock + j);
      weights[b * kBlock + j] = static_cast<int8_t>(code - 1);
    }
}

}  // namespace

void decode_tq1_0_block(const uint8_t* block, int8_t* w, float* scale) {
  const uint8_t* qs = block;       // 48 bytes
  const uint8_t* qh = block + 48;  // 4 bytes
  for (int m = 0; m < 32; ++m)
    for (int n = 0; n < 5; ++n) w[m + 32 * n] = tq1_trit(qs[m], n);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 5; ++n) w[160 + m + 16 * n] = tq1_trit(qs[32 + m], n);
  for (int j = 0; j < 4; ++j)
    for (int n = 0; n < 4; ++n) w[240 + j + 4 * n] = tq1_trit(qh[j], n);
  *scale = read_f16(block + 52);
}

void encode_tq1_0_block(const int8_t* w, float scale, uint8_t* block) {
  for (int m = 0; m < 32; ++m) block[m] = tq1_pack(w + m, 32, 5);
  for (int m = 0; m < 16; ++m) block[32 + m] = tq1_pack(w + 160 + m, 16, 5);
  for (int j = 0; j < 4; ++j) block[48 + j] = tq1_pack(w + 240 + j, 4, 4);
  write_f16(block + 52, scale);
}

void decode_tq2_0_block(const uint8_t* block, int8_t* w, float* scale) {
  for (int h = 0; h < 2; ++h)
    for (int m = 0; m < 32; ++m)
      for (int n = 0; n < 4; ++n)
        w[128 * h + m + 32 * n] = static_cast<int8_t>(((block[32 * h + m] >> (2 * n)) & 3) - 1);
  *scale = read_f16(block + 64);
}

void encode_tq2_0_block(const int8_t* w, float scale, uint8_t* block) {
  for (int h = 0; h < 2; ++h)
    for (int m = 0; m < 32; ++m) {
      uint8_t byte = 0;
      for (int n = 0; n < 4; ++n) byte |= static_cast<uint8_t>((w[128 * h + m + 32 * n] + 1) << (2 * n));
      block[32 * h + m] = byte;
    }
  write_f16(block + 64, scale);
}

TernaryWeights decode_ternary(TensorType type, std::span<const uint8_t> data, int64_t n_in, int64_t n_rows,
                              const std::string& tensor_name) {
  TernaryWeights out;
  out.n_in = n_in;
  out.n_rows = n_rows;
  out.weights.resize(static_cast<size_t>(n_in * n_rows));
  if (type == TensorType::TERN2 || type == TensorType::TERN2R) {
    decode_tern2_codes(data, n_in, n_rows, tensor_name, out.weights);
    out.group = n_in;
    const uint8_t* scales = data.data() + (n_in + 3) / 4 * n_rows;
    out.scales.resize(static_cast<size_t>(n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
      std::memcpy(&out.scales[r], scales + (type == TensorType::TERN2R ? r * sizeof(float) : 0), sizeof(float));
      check_scale(out.scales[r], tensor_name);
    }
    return out;
  }
  if (type == TensorType::I2_S) {
    decode_i2_s(data, n_in * n_rows, tensor_name, out.weights);
    float scale;
    std::memcpy(&scale, data.data() + n_in * n_rows / 4, sizeof scale);
    check_scale(scale, tensor_name);
    out.group = n_in;
    out.scales.assign(static_cast<size_t>(n_rows), scale);
    return out;
  }
  const bool tq1 = type == TensorType::TQ1_0;
  if (!tq1 && type != TensorType::TQ2_0) fail("internal: decode_ternary does not take {}", tensor_type_name(type));
  const int block_bytes = tq1 ? kTq1BlockBytes : kTq2BlockBytes;
  out.group = kTernaryBlock;
  const int64_t blocks = n_in * n_rows / kTernaryBlock;
  out.scales.resize(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b) {
    int8_t* w = out.weights.data() + b * kTernaryBlock;
    const uint8_t* block = data.data() + b * block_bytes;
    if (tq1) decode_tq1_0_block(block, w, &out.scales[b]);
    else decode_tq2_0_block(block, w, &out.scales[b]);
    check_scale(out.scales[b], tensor_name);
    for (int i = 0; i < kTernaryBlock; ++i)
      if (w[i] > 1) fail("tensor '{}': invalid {} code in block {}", tensor_name, tensor_type_name(type), b);
  }
  return out;
}

std::vector<uint8_t> encode_ternary(TensorType type, const TernaryWeights& w) {
  std::vector<uint8_t> out;
  if (type == TensorType::TERN2R) {
    if (w.group != w.n_in) fail("TERN2R holds one scale per row, but the scales are per {} weights", w.group);
    out = encode_tern2_codes(w);
    const auto* p = reinterpret_cast<const uint8_t*>(w.scales.data());
    out.insert(out.end(), p, p + w.scales.size() * sizeof(float));
    return out;
  }
  if (type == TensorType::TERN2) {
    for (float s : w.scales)
      if (s != w.scales.at(0))
        fail("TERN2 holds one scale per tensor, but the scales differ ({} vs {})", s, w.scales[0]);
    out = encode_tern2_codes(w);
    const float scale = w.scales.at(0);
    const auto* p = reinterpret_cast<const uint8_t*>(&scale);
    out.insert(out.end(), p, p + sizeof scale);
    return out;
  }
  const bool tq1 = type == TensorType::TQ1_0;
  if (!tq1 && type != TensorType::TQ2_0) fail("internal: encode_ternary does not take {}", tensor_type_name(type));
  if (w.n_in % kTernaryBlock != 0)
    fail("{} needs rows that are a multiple of 256 weights, got {}", tensor_type_name(type), w.n_in);
  const int block_bytes = tq1 ? kTq1BlockBytes : kTq2BlockBytes;
  const int64_t blocks = w.n_in * w.n_rows / kTernaryBlock;
  out.resize(static_cast<size_t>(blocks * block_bytes));
  for (int64_t b = 0; b < blocks; ++b) {
    // Scales may be per block (group 256) or one per row/tensor (group n_in).
    const int64_t row = b * kTernaryBlock / w.n_in;
    const int64_t group = (b * kTernaryBlock % w.n_in) / w.group;
    const float scale = w.scales[row * w.groups_per_row() + group];
    const int8_t* weights = w.weights.data() + b * kTernaryBlock;
    if (tq1) encode_tq1_0_block(weights, scale, out.data() + b * block_bytes);
    else encode_tq2_0_block(weights, scale, out.data() + b * block_bytes);
  }
  return out;
}

}  // namespace tern
