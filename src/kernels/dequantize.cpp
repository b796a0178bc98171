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

// The f16 bits stored at p (a block's scale), unaligned.
uint16_t f16_bits_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

void dequantize_q8_0(const uint8_t* row, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const uint8_t* block = row + b * kQ8BlockBytes;
    const float d = f16_to_f32(f16_bits_at(block));
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
    for (int i = 0; i < kQ8Block; ++i)
      out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::nearbyint(x[i] * inv))));
  }
}

// Q4_0 (18 bytes): f16 d, then 16 bytes whose low nibbles are weights 0..15 and high
// nibbles weights 16..31; w = d * (nibble - 8).
constexpr int kQ4Block = 32;
constexpr int kQ4BlockBytes = 18;

void dequantize_q4_0(const uint8_t* row, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kQ4Block; ++b) {
    const uint8_t* block = row + b * kQ4BlockBytes;
    const float d = f16_to_f32(f16_bits_at(block));
    float* y = out + b * kQ4Block;
    for (int i = 0; i < kQ4Block / 2; ++i) {
      y[i] = d * static_cast<float>((block[2 + i] & 0xF) - 8);
      y[i + kQ4Block / 2] = d * static_cast<float>((block[2 + i] >> 4) - 8);
    }
  }
}

// As ggml defines Q4_0: d = m / -8 for the block's value m of largest magnitude (sign
// kept), so m itself lands on code 0 exactly and the other side reaches +7 d; codes are
// round(x / d) + 8 against the stored (f16) d, clamped to 0..15.
void quantize_q4_0(std::span<const float> row, std::vector<uint8_t>& out) {
  for (size_t b = 0; b < row.size() / kQ4Block; ++b) {
    const float* x = row.data() + b * kQ4Block;
    float extreme = 0;
    for (int i = 0; i < kQ4Block; ++i)
      if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
    const uint16_t d16 = f32_to_f16(extreme / -8.0f);
    const float d = f16_to_f32(d16);
    const float inv = d != 0 ? 1.0f / d : 0.0f;
    uint8_t codes[kQ4Block];
    for (int i = 0; i < kQ4Block; ++i)
      codes[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(x[i] * inv) + 8.0f, 0.0f, 15.0f));
    out.push_back(static_cast<uint8_t>(d16 & 0xff));
    out.push_back(static_cast<uint8_t>(d16 >> 8));
    for (int i = 0; i < kQ4Block / 2; ++i)
      out.push_back(static_cast<uint8_t>(codes[i] | (codes[i + kQ4Block / 2] << 4)));
  }
}

// ggml's K-quants, as llama.cpp's quantizer writes token embeddings and LM heads of
// TQ1_0 / TQ2_0 models: super-blocks of 256 weights.
constexpr int kSuperBlock = 256;

// Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for eight
// 32-weight sub-blocks, 128 bytes of 4-bit quants; w = d * scale_j * q - dmin * min_j.
// Sub-blocks 2k and 2k+1 take the low and high nibbles of the same 32 bytes.
void dequantize_q4_k(const uint8_t* row, float* out, int64_t n) {
  constexpr int kBytes = 144;
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const uint8_t* block = row + b * kBytes;
    uint16_t d16, m16;
    std::memcpy(&d16, block, 2);
    std::memcpy(&m16, block + 2, 2);
    const float d = f16_to_f32(d16), dmin = f16_to_f32(m16);
    const uint8_t* packed = block + 4;  // [12] scales and mins
    const uint8_t* q = block + 16;      // [128] quants
    float* y = out + b * kSuperBlock;
    for (int j = 0; j < 8; ++j) {
      // Sub-blocks 0-3 keep their 6-bit scale and min in bytes j and j + 4; 4-7 split
      // theirs into a nibble of bytes 8-11 and the top two bits of bytes 0-7.
      const int scale = j < 4 ? packed[j] & 63 : (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
      const int min = j < 4 ? packed[j + 4] & 63 : (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
      const uint8_t* bytes = q + (j / 2) * 32;
      const int shift = (j % 2) * 4;
      for (int l = 0; l < 32; ++l)
        y[j * 32 + l] = d * static_cast<float>(scale) * static_cast<float>((bytes[l] >> shift) & 0xF) -
                        dmin * static_cast<float>(min);
    }
  }
}

// Q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8
// scales (one per 16 weights), f16 d; w = d * scale_j * (q - 32), q in 0..63. Each half
// of 128 weights draws on 64 low-nibble bytes and 32 high-bit bytes.
void dequantize_q6_k(const uint8_t* row, float* out, int64_t n) {
  constexpr int kBytes = 210;
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const uint8_t* block = row + b * kBytes;
    const uint8_t* low = block;                                         // [128]
    const uint8_t* high = block + 128;                                  // [64]
    const auto* scales = reinterpret_cast<const int8_t*>(block + 192);  // [16]
    uint16_t d16;
    std::memcpy(&d16, block + 208, 2);
    const float d = f16_to_f32(d16);
    float* y = out + b * kSuperBlock;
    for (int i = 0; i < kSuperBlock; ++i) {
      const int half = i / 128, k = i % 128, quarter = k / 32, l = k % 32;
      // Quarters 0/1 use the low nibbles of bytes l / l + 32, quarters 2/3 their high
      // nibbles; quarter q takes bits 2q, 2q+1 of the high byte l.
      const uint8_t nibble_byte = low[half * 64 + l + (quarter % 2) * 32];
      const int nibble = quarter < 2 ? nibble_byte & 0xF : nibble_byte >> 4;
      const int top = (high[half * 32 + l] >> (2 * quarter)) & 3;
      const int q = (nibble | (top << 4)) - 32;
      y[i] = d * static_cast<float>(scales[i / 16]) * static_cast<float>(q);
    }
  }
}

// Q6_K from floats: each 16-weight sub-block's step is its max |x| / 31, stored as an
// int8 multiple of the super-block's d (max step / 127); q = round(x / step) in -32..31.
void quantize_q6_k(std::span<const float> row, std::vector<uint8_t>& out) {
  for (size_t b = 0; b < row.size() / kSuperBlock; ++b) {
    const float* x = row.data() + b * kSuperBlock;
    float sub_step[16], max_step = 0;
    for (int j = 0; j < 16; ++j) {
      float amax = 0;
      for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[j * 16 + i]));
      sub_step[j] = amax / 31.0f;
      max_step = std::max(max_step, sub_step[j]);
    }
    const uint16_t d16 = f32_to_f16(max_step / 127.0f);
    const float d = f16_to_f32(d16);
    int8_t scales[16];
    uint8_t q[kSuperBlock];  // q + 32, 0..63
    for (int j = 0; j < 16; ++j) {
      scales[j] = static_cast<int8_t>(d > 0 ? std::clamp(std::nearbyint(sub_step[j] / d), -127.0f, 127.0f) : 0.0f);
      const float step = d * static_cast<float>(scales[j]);
      for (int i = 0; i < 16; ++i) {
        const float v = step != 0 ? std::clamp(std::nearbyint(x[j * 16 + i] / step), -32.0f, 31.0f) : 0.0f;
        q[j * 16 + i] = static_cast<uint8_t>(static_cast<int>(v) + 32);
      }
    }
    // The layout dequantize_q6_k reads: per half of 128, quarters 0/2 share the low /
    // high nibbles of bytes 0..31, quarters 1/3 those of bytes 32..63; the top 2 bits of
    // quarter k go to bits 2k, 2k+1 of the half's high bytes.
    uint8_t low[128], high[64];
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* v = q + h * 128 + l;
        low[h * 64 + l] = static_cast<uint8_t>((v[0] & 0xF) | ((v[64] & 0xF) << 4));
        low[h * 64 + 32 + l] = static_cast<uint8_t>((v[32] & 0xF) | ((v[96] & 0xF) << 4));
        high[h * 32 + l] =
            static_cast<uint8_t>((v[0] >> 4) | ((v[32] >> 4) << 2) | ((v[64] >> 4) << 4) | ((v[96] >> 4) << 6));
      }
    out.insert(out.end(), low, low + 128);
    out.insert(out.end(), high, high + 64);
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(scales), reinterpret_cast<const uint8_t*>(scales) + 16);
    out.push_back(static_cast<uint8_t>(d16 & 0xff));
    out.push_back(static_cast<uint8_t>(d16 >> 8));
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
    case TensorType::F32: std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float)); return;
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
    case TensorType::Q4_0: dequantize_q4_0(row, out, n); return;
    case TensorType::Q8_0: dequantize_q8_0(row, out, n); return;
    case TensorType::Q4_K: dequantize_q4_k(row, out, n); return;
    case TensorType::Q6_K: dequantize_q6_k(row, out, n); return;
    default: fail("internal: dequantize_row does not take {}", tensor_type_name(type));
  }
}

std::optional<uint64_t> first_non_finite_block_scale(TensorType type, std::span<const uint8_t> data) {
  if (type != TensorType::Q4_0 && type != TensorType::Q8_0) return std::nullopt;
  const uint64_t block_bytes = traits(type).block_bytes;
  for (uint64_t b = 0; b < data.size() / block_bytes; ++b)
    if ((f16_bits_at(data.data() + b * block_bytes) & 0x7c00) == 0x7c00) return b;  // all-ones exponent: Inf or NaN
  return std::nullopt;
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
    case TensorType::Q4_0:
      if (row.size() % kQ4Block != 0) fail("Q4_0 needs rows that are a multiple of 32, got {}", row.size());
      quantize_q4_0(row, out);
      return;
    case TensorType::Q6_K:
      if (row.size() % kSuperBlock != 0) fail("Q6_K needs rows that are a multiple of 256, got {}", row.size());
      quantize_q6_k(row, out);
      return;
    default:
      fail("tern reads {} but does not write it (writable: F32, F16, BF16, Q4_0, Q8_0, Q6_K)", tensor_type_name(type));
  }
}

}  // namespace tern
