// The three ternary layouts (docs/FORMAT.md 2.1-2.3): blocks built byte by byte from
// the spec text decode to the expected weights, encode/decode round trips, TERN2 row
// padding, invalid codes, and agreement with the independent Python codecs in
// tools/reference/gguf.py on whole tensors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "kernels/float16.h"
#include "kernels/ternary_formats.h"
#include "kernels/ternary_matrix.h"
#include "model_files.h"
#include "tern/error.h"
#include "test_support.h"

namespace tern::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// ---------------------------------------------------------------- TQ2_0 by hand

// A TQ2_0 block whose every weight is 0 (code 1 = 0b01 in all four 2-bit fields), d = 0.5.
std::array<uint8_t, 66> zero_tq2_block() {
  std::array<uint8_t, 66> b{};
  b.fill(0x55);
  b[64] = 0x00;  // f16 0x3800 = 0.5, little-endian
  b[65] = 0x38;
  return b;
}

TEST(TernaryFormatsTq2, HandBuiltBlockDecodes) {
  for (int h = 0; h < 2; ++h) {
    for (int m : {0, 5, 31}) {
      auto b = zero_tq2_block();
      // bits 7..6 = 10 (+1), 5..4 = 01 (0), 3..2 = 00 (-1), 1..0 = 10 (+1)
      b[32 * h + m] = 0b10'01'00'10;
      std::array<int8_t, 256> w{};
      float d = 0;
      decode_tq2_0_block(b.data(), w.data(), &d);
      EXPECT_EQ(d, 0.5f);
      std::array<int8_t, 256> expected{};
      const int base = 128 * h + m;
      expected[base] = +1;
      expected[base + 32] = -1;
      expected[base + 64] = 0;
      expected[base + 96] = +1;
      EXPECT_EQ(w, expected) << "h=" << h << " m=" << m;
      // And the encoder produces exactly these bytes back.
      std::array<uint8_t, 66> again{};
      encode_tq2_0_block(expected.data(), 0.5f, again.data());
      EXPECT_EQ(again, b);
    }
  }
}

TEST(TernaryFormatsTq2, ScaleBytesAreLittleEndianHalf) {
  auto b = zero_tq2_block();
  std::array<int8_t, 256> w{};
  float d = 0;
  const std::pair<std::array<uint8_t, 2>, float> cases[] = {
      {{0x00, 0x3c}, 1.0f},           {{0x00, 0xbc}, -1.0f},
      {{0x00, 0x38}, 0.5f},           {{0x01, 0x00}, 5.9604644775390625e-8f},
      {{0xff, 0x7b}, 65504.0f},       {{0x00, 0x00}, 0.0f},
      {{0x55, 0x35}, 0.333251953125f}};
  for (const auto& [bytes, value] : cases) {
    b[64] = bytes[0];
    b[65] = bytes[1];
    decode_tq2_0_block(b.data(), w.data(), &d);
    EXPECT_EQ(d, value);
    std::array<uint8_t, 66> again{};
    encode_tq2_0_block(w.data(), value, again.data());
    EXPECT_EQ(again[64], bytes[0]);
    EXPECT_EQ(again[65], bytes[1]);
  }
}

TEST(TernaryFormatsTq2, EveryByteValueOfEveryPosition) {
  // Byte value v at qs[32h + m] sets weights 128h + m + 32n to ((v >> 2n) & 3) - 1.
  for (int pos = 0; pos < 64; ++pos) {
    for (int v = 0; v < 256; ++v) {
      bool has_code3 = false;
      for (int n = 0; n < 4; ++n) has_code3 |= ((v >> (2 * n)) & 3) == 3;
      if (has_code3) continue;
      auto b = zero_tq2_block();
      b[pos] = static_cast<uint8_t>(v);
      std::array<int8_t, 256> w{};
      float d;
      decode_tq2_0_block(b.data(), w.data(), &d);
      const int h = pos / 32, m = pos % 32;
      for (int i = 0; i < 256; ++i) {
        int expected = 0;
        for (int n = 0; n < 4; ++n)
          if (i == 128 * h + m + 32 * n) expected = ((v >> (2 * n)) & 3) - 1;
        ASSERT_EQ(w[i], expected) << "pos " << pos << " value " << v << " weight " << i;
      }
    }
  }
}

// ---------------------------------------------------------------- TQ1_0 by hand

// Packs five trits (t0 most significant) as the spec says: ceil(v * 256 / 243).
uint8_t spec_pack(std::array<int, 5> t) {
  int v = 0;
  for (int x : t) v = v * 3 + x;
  return static_cast<uint8_t>((v * 256 + 242) / 243);
}

// A TQ1_0 block of all-zero weights: trits (1,1,1,1,1) = 128 in qs, (1,1,1,1,0) = 127
// in qh (trit 4 of qh bytes is 0), d = 0.5.
std::array<uint8_t, 54> zero_tq1_block() {
  std::array<uint8_t, 54> b{};
  for (int i = 0; i < 48; ++i) b[i] = 128;
  for (int i = 48; i < 52; ++i) b[i] = 127;
  b[52] = 0x00;
  b[53] = 0x38;
  return b;
}

TEST(TernaryFormatsTq1, SpecConstants) {
  EXPECT_EQ(spec_pack({2, 0, 1, 1, 2}), 186);  // ceil(176 * 256 / 243)
  EXPECT_EQ(spec_pack({1, 1, 1, 1, 1}), 128);
  EXPECT_EQ(spec_pack({1, 1, 1, 1, 0}), 127);
  EXPECT_EQ(spec_pack({0, 2, 1, 0, 2}), 69);
  EXPECT_EQ(spec_pack({2, 2, 0, 1, 0}), 231);
}

TEST(TernaryFormatsTq1, AllZeroBlock) {
  const auto b = zero_tq1_block();
  std::array<int8_t, 256> w{};
  w.fill(7);
  float d = 0;
  decode_tq1_0_block(b.data(), w.data(), &d);
  EXPECT_EQ(d, 0.5f);
  EXPECT_EQ(w, (std::array<int8_t, 256>{}));
  std::array<uint8_t, 54> again{};
  encode_tq1_0_block(w.data(), 0.5f, again.data());
  EXPECT_EQ(again, b);
}

TEST(TernaryFormatsTq1, ThirtyTwoByteSection) {
  for (int m : {0, 17, 31}) {
    auto b = zero_tq1_block();
    b[m] = 186;  // trits (2,0,1,1,2)
    std::array<int8_t, 256> w{};
    float d;
    decode_tq1_0_block(b.data(), w.data(), &d);
    std::array<int8_t, 256> expected{};
    expected[m] = +1;
    expected[m + 32] = -1;
    expected[m + 64] = 0;
    expected[m + 96] = 0;
    expected[m + 128] = +1;
    EXPECT_EQ(w, expected) << m;
    std::array<uint8_t, 54> again{};
    encode_tq1_0_block(expected.data(), 0.5f, again.data());
    EXPECT_EQ(again, b);
  }
}

TEST(TernaryFormatsTq1, SixteenByteSection) {
  for (int m : {0, 9, 15}) {
    auto b = zero_tq1_block();
    b[32 + m] = 69;  // trits (0,2,1,0,2)
    std::array<int8_t, 256> w{};
    float d;
    decode_tq1_0_block(b.data(), w.data(), &d);
    std::array<int8_t, 256> expected{};
    expected[160 + m] = -1;
    expected[176 + m] = +1;
    expected[192 + m] = 0;
    expected[208 + m] = -1;
    expected[224 + m] = +1;
    EXPECT_EQ(w, expected) << m;
    std::array<uint8_t, 54> again{};
    encode_tq1_0_block(expected.data(), 0.5f, again.data());
    EXPECT_EQ(again, b);
  }
}

TEST(TernaryFormatsTq1, QhSection) {
  for (int j = 0; j < 4; ++j) {
    auto b = zero_tq1_block();
    b[48 + j] = 231;  // trits (2,2,0,1,0)
    std::array<int8_t, 256> w{};
    float d;
    decode_tq1_0_block(b.data(), w.data(), &d);
    std::array<int8_t, 256> expected{};
    expected[240 + j] = +1;
    expected[244 + j] = +1;
    expected[248 + j] = -1;
    expected[252 + j] = 0;
    EXPECT_EQ(w, expected) << j;
    std::array<uint8_t, 54> again{};
    encode_tq1_0_block(expected.data(), 0.5f, again.data());
    EXPECT_EQ(again, b);
  }
}

TEST(TernaryFormatsTq1, AllTritCombinationsThroughTheFirstByte) {
  // Every one of the 243 five-trit values, packed by the spec formula and read back
  // by tern, and packed by tern's encoder.
  for (int v = 0; v < 243; ++v) {
    const std::array<int, 5> t = {v / 81, v / 27 % 3, v / 9 % 3, v / 3 % 3, v % 3};
    auto b = zero_tq1_block();
    b[0] = spec_pack(t);
    std::array<int8_t, 256> w{};
    float d;
    decode_tq1_0_block(b.data(), w.data(), &d);
    for (int n = 0; n < 5; ++n) ASSERT_EQ(w[32 * n], t[n] - 1) << "v=" << v << " n=" << n;
    std::array<uint8_t, 54> again{};
    encode_tq1_0_block(w.data(), 0.5f, again.data());
    ASSERT_EQ(again, b) << v;
  }
}

// ---------------------------------------------------------------- random round trips

uint16_t random_finite_half(std::mt19937& rng) {
  for (;;) {
    const auto h = static_cast<uint16_t>(rng());
    if ((h & 0x7c00) != 0x7c00) return h;
  }
}

TEST(TernaryFormats, RandomTq2BlocksRoundTrip) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    std::array<uint8_t, 66> b{};
    for (int i = 0; i < 64; ++i) {
      uint8_t byte = 0;
      for (int n = 0; n < 4; ++n) byte |= static_cast<uint8_t>((rng() % 3) << (2 * n));
      b[i] = byte;
    }
    const uint16_t h = random_finite_half(rng);
    std::memcpy(&b[64], &h, 2);
    std::array<int8_t, 256> w{};
    float d;
    decode_tq2_0_block(b.data(), w.data(), &d);
    for (int8_t x : w) ASSERT_TRUE(x >= -1 && x <= 1);
    std::array<uint8_t, 66> again{};
    encode_tq2_0_block(w.data(), d, again.data());
    ASSERT_EQ(again, b) << trial;
  }
}

TEST(TernaryFormats, RandomTq1BlocksRoundTrip) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 2000; ++trial) {
    std::array<int8_t, 256> w{};
    for (auto& x : w) x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    const uint16_t h = random_finite_half(rng);
    float scale;
    {
      // A scale exactly representable in f16, so the block stores it without rounding.
      std::array<uint8_t, 66> tmp{};
      tmp.fill(0x55);
      std::memcpy(&tmp[64], &h, 2);
      std::array<int8_t, 256> unused{};
      decode_tq2_0_block(tmp.data(), unused.data(), &scale);
    }
    std::array<uint8_t, 54> b{};
    encode_tq1_0_block(w.data(), scale, b.data());
    EXPECT_EQ(b[52] | (b[53] << 8), h);
    std::array<int8_t, 256> back{};
    float d;
    decode_tq1_0_block(b.data(), back.data(), &d);
    ASSERT_EQ(back, w) << trial;
    EXPECT_EQ(std::memcmp(&d, &scale, 4), 0);
    std::array<uint8_t, 54> again{};
    encode_tq1_0_block(back.data(), d, again.data());
    ASSERT_EQ(again, b) << trial;
  }
  // Arbitrary bytes (not all produced by the encoder) still decode to valid trits and
  // re-encode to a block that decodes the same.
  for (int trial = 0; trial < 500; ++trial) {
    std::array<uint8_t, 54> b{};
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    std::array<int8_t, 256> w{}, w2{};
    float d, d2;
    decode_tq1_0_block(b.data(), w.data(), &d);
    for (int8_t x : w) ASSERT_TRUE(x >= -1 && x <= 1);
    std::array<uint8_t, 54> again{};
    encode_tq1_0_block(w.data(), 1.0f, again.data());
    decode_tq1_0_block(again.data(), w2.data(), &d2);
    ASSERT_EQ(w2, w);
  }
}

float f16_exact(float x) { return f16_to_f32(f32_to_f16(x)); }

TernaryWeights random_weights(int64_t n_in, int64_t n_rows, int64_t group, std::mt19937& rng) {
  TernaryWeights w;
  w.n_in = n_in;
  w.n_rows = n_rows;
  w.group = group;
  w.weights.resize(static_cast<size_t>(n_in * n_rows));
  for (auto& x : w.weights) x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  std::uniform_real_distribution<float> u(0.01f, 2.0f);
  if (group == n_in) {
    w.scales.assign(static_cast<size_t>(n_rows), u(rng));  // one scale per tensor
  } else {
    for (int64_t i = 0; i < n_rows * (n_in / group); ++i) w.scales.push_back(f16_exact(u(rng)));
  }
  return w;
}

TEST(TernaryFormatsTern2, RowLengthsRoundTripWithPaddingCodesOne) {
  std::mt19937 rng(13);
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 13; ++n) lengths.push_back(n);
  lengths.push_back(66);
  lengths.push_back(102);
  for (int64_t n_in : lengths) {
    for (int64_t n_rows : {1, 3, 5}) {
      const auto w = random_weights(n_in, n_rows, n_in, rng);
      const auto bytes = encode_ternary(TensorType::TERN2, w);
      const int64_t stride = (n_in + 3) / 4;
      ASSERT_EQ(bytes.size(), static_cast<size_t>(n_rows * stride + 4));
      ASSERT_EQ(bytes.size(), tensor_bytes(TensorType::TERN2, n_in, n_rows));
      for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t k = 0; k < stride * 4; ++k) {
          const int code = (bytes[r * stride + k / 4] >> (2 * (k % 4))) & 3;
          if (k < n_in) ASSERT_EQ(code - 1, w.weights[r * n_in + k]) << n_in << " r" << r << " k" << k;
          else ASSERT_EQ(code, 1) << "padding of row " << r << " of " << n_in;
        }
      }
      float scale;
      std::memcpy(&scale, bytes.data() + n_rows * stride, 4);
      EXPECT_EQ(scale, w.scales[0]);
      const auto back = decode_ternary(TensorType::TERN2, bytes, n_in, n_rows, "t");
      EXPECT_EQ(back.weights, w.weights) << n_in;
      EXPECT_EQ(back.group, n_in);
      EXPECT_EQ(back.scales, std::vector<float>(static_cast<size_t>(n_rows), w.scales[0]));
    }
  }
}

TEST(TernaryFormatsTern2, HandBuiltRows) {
  // Two rows of 5 weights: 2 bytes per row, then the f32 scale 0.75.
  // Row 0: -1, +1, 0, -1 | +1 (+ three padding codes 1): bytes 0b00'01'10'00, 0b01'01'01'10.
  // Row 1: 0, 0, 0, +1 | -1: bytes 0b10'01'01'01, 0b01'01'01'00.
  std::vector<uint8_t> bytes = {0b00'01'10'00, 0b01'01'01'10, 0b10'01'01'01, 0b01'01'01'00};
  const float scale = 0.75f;
  const auto* p = reinterpret_cast<const uint8_t*>(&scale);
  bytes.insert(bytes.end(), p, p + 4);
  const auto w = decode_ternary(TensorType::TERN2, bytes, 5, 2, "hand");
  EXPECT_EQ(w.weights, (std::vector<int8_t>{-1, 1, 0, -1, 1, 0, 0, 0, 1, -1}));
  EXPECT_EQ(w.scales, (std::vector<float>{0.75f, 0.75f}));
  EXPECT_EQ(encode_ternary(TensorType::TERN2, w), bytes);
  // The packed in-memory matrix agrees weight by weight.
  const auto m = TernaryMatrix::from_weights(w);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(m.weight(r, c), w.weights[r * 5 + c]);
}

TEST(TernaryFormatsTern2, DifferentScalesCannotBeOneTensorScale) {
  std::mt19937 rng(14);
  auto w = random_weights(8, 2, 8, rng);
  w.scales[1] = w.scales[0] * 2;
  EXPECT_THROW(encode_ternary(TensorType::TERN2, w), Error);
}

// ---------------------------------------------------------------- TERN2R, I2_S by hand

std::vector<uint8_t> with_floats(std::vector<uint8_t> bytes, const std::vector<float>& values) {
  const auto* p = reinterpret_cast<const uint8_t*>(values.data());
  bytes.insert(bytes.end(), p, p + values.size() * sizeof(float));
  return bytes;
}

TEST(TernaryFormatsTern2r, HandBuiltRowsWithTheirOwnScales) {
  // The rows of TernaryFormatsTern2.HandBuiltRows, then one f32 scale per row (FORMAT.md 2.5).
  const auto bytes = with_floats({0b00'01'10'00, 0b01'01'01'10, 0b10'01'01'01, 0b01'01'01'00}, {0.75f, -2.5f});
  EXPECT_EQ(tensor_bytes(TensorType::TERN2R, 5, 2), bytes.size());
  const auto w = decode_ternary(TensorType::TERN2R, bytes, 5, 2, "hand");
  EXPECT_EQ(w.weights, (std::vector<int8_t>{-1, 1, 0, -1, 1, 0, 0, 0, 1, -1}));
  EXPECT_EQ(w.group, 5);
  EXPECT_EQ(w.scales, (std::vector<float>{0.75f, -2.5f}));
  EXPECT_EQ(encode_ternary(TensorType::TERN2R, w), bytes);
  EXPECT_THROW(encode_ternary(TensorType::TERN2, w), Error);  // two scales: not TERN2
}

TEST(TernaryFormatsTern2r, NonFiniteRowScaleNamesTheTensor) {
  const auto bytes = with_floats({0x55, 0x55}, {1.0f, std::numeric_limits<float>::quiet_NaN()});
  EXPECT_THAT([&] { decode_ternary(TensorType::TERN2R, bytes, 4, 2, "blk.3.ffn_up.weight"); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("blk.3.ffn_up.weight"), HasSubstr("finite"))));
}

TEST(TernaryFormatsTern2r, RowScalesBecomeTq2BlockScales) {
  // --to llama: each 256-weight block of a row gets the row's scale as its f16 d.
  std::mt19937 rng(21);
  TernaryWeights w;
  w.n_in = 512;
  w.n_rows = 3;
  w.group = 512;
  w.weights.resize(512 * 3);
  for (auto& t : w.weights) t = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  w.scales = {0.5f, 0.25f, 2.0f};  // exact in f16
  const auto tq = decode_ternary(TensorType::TQ2_0, encode_ternary(TensorType::TQ2_0, w), 512, 3, "tq");
  EXPECT_EQ(tq.weights, w.weights);
  EXPECT_EQ(tq.scales, (std::vector<float>{0.5f, 0.5f, 0.25f, 0.25f, 2.0f, 2.0f}));
}

TEST(TernaryFormatsI2s, HandBuiltBlock) {
  // 128 weights = 32 bytes; weight j is in byte j % 32 at bits 7-2(j/32)..6-2(j/32) as
  // code w + 1 (FORMAT.md 2.6). Byte 0 = 0b10'00'01'10: weights 0, 32, 64, 96 = +1, -1, 0, +1;
  // every other byte 0x55 (all zero). Then the f32 scale 0.5 and 28 bytes of padding.
  std::vector<uint8_t> bytes(32, 0x55);
  bytes[0] = 0b10'00'01'10;
  bytes[5] = 0b01'01'01'00;  // weight 101 = 96 + 5: group 3 (bits 1..0) = -1
  bytes = with_floats(bytes, {0.5f});
  bytes.resize(64, 0);
  EXPECT_EQ(tensor_bytes(TensorType::I2_S, 128, 1), bytes.size());
  const auto w = decode_ternary(TensorType::I2_S, bytes, 128, 1, "i2s");
  std::vector<int8_t> expected(128, 0);
  expected[0] = 1;
  expected[32] = -1;
  expected[96] = 1;
  expected[101] = -1;
  EXPECT_EQ(w.weights, expected);
  EXPECT_EQ(w.scales, (std::vector<float>{0.5f}));
  bytes[7] = 0xff;  // code 3
  EXPECT_THAT([&] { decode_ternary(TensorType::I2_S, bytes, 128, 1, "blk.0.attn_q.weight"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("blk.0.attn_q.weight")));
}

TEST(TernaryFormats, InvalidCodesThrowNamingTheTensor) {
  // TERN2: code 3 at row 1, column 2.
  std::vector<uint8_t> tern2 = {0x55, 0x55, 0x55, 0x55, 0, 0, 0x80, 0x3f};
  tern2[2] = static_cast<uint8_t>(0x55 | (3 << 4));
  try {
    decode_ternary(TensorType::TERN2, tern2, 8, 2, "blk.3.ffn_up.weight");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("blk.3.ffn_up.weight"), HasSubstr("code 3"), HasSubstr("row 1"),
                                HasSubstr("column 2")));
  }
  // TQ2_0: code 3 in the second block.
  std::vector<uint8_t> tq2;
  for (int b = 0; b < 2; ++b) {
    const auto block = zero_tq2_block();
    tq2.insert(tq2.end(), block.begin(), block.end());
  }
  tq2[66 + 40] = 0b01'11'01'01;
  try {
    decode_ternary(TensorType::TQ2_0, tq2, 512, 1, "blk.0.attn_k.weight");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("blk.0.attn_k.weight"), HasSubstr("TQ2_0")));
  }
  // Non-finite scales.
  auto inf_block = zero_tq2_block();
  inf_block[64] = 0x00;
  inf_block[65] = 0x7c;
  EXPECT_THROW(decode_ternary(TensorType::TQ2_0, inf_block, 256, 1, "t"), Error);
  std::vector<uint8_t> nan_tern2 = {0x55, 0, 0, 0xc0, 0x7f};
  EXPECT_THROW(decode_ternary(TensorType::TERN2, nan_tern2, 4, 1, "t"), Error);
}

// ---------------------------------------------------------------- against gguf.py

struct PythonDecoded {
  std::vector<int8_t> codes;
  std::vector<float> scales;
};

// Has tools/reference/gguf.py decode every ternary tensor of `model` into dir/<name>.codes
// (int8) and dir/<name>.scales (f32, [rows, n_scales]).
void python_decode(const std::filesystem::path& model, const std::filesystem::path& dir) {
  const auto script = dir / "decode.py";
  std::ofstream(script) << "import sys, os\n"
                        << "sys.path.insert(0, '" << reference_tool("") << "')\n"
                        << "import numpy as np, gguf\n"
                        << "meta, tensors = gguf.read_gguf(sys.argv[1])\n"
                        << "for name, (t, ne, raw) in tensors.items():\n"
                        << "    if t in gguf.TERNARY_TYPES:\n"
                        << "        codes, scales = gguf.ternary_codes(t, ne, raw)\n"
                        << "        codes.astype(np.int8).tofile(os.path.join(sys.argv[2], name + '.codes'))\n"
                        << "        scales.astype('<f4').tofile(os.path.join(sys.argv[2], name + '.scales'))\n";
  const auto r = run_command(python() + " " + script.string() + " " + model.string() + " " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::vector<int8_t> read_int8(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  return std::vector<int8_t>(bytes.begin(), bytes.end());
}

class TernaryFormatsPython : public ::testing::TestWithParam<std::string> {};

TEST_P(TernaryFormatsPython, DecodeMatchesAndReencodesToTheSameBytes) {
  TempDir dir;
  const auto model = dir / "m.gguf";
  const std::string options = "--blocks 1 --vocab 259 --seed 3 --ternary-type " + GetParam() +
                              (GetParam() == "tern2" ? " --dim 52 --ffn 78 --heads 2 --kv-heads 1 --head-dim 26"
                                                     : " --dim 256 --ffn 256 --heads 2 --kv-heads 1");
  make_random_model(model, options);
  ASSERT_FALSE(HasFatalFailure());
  python_decode(model, dir.path());
  ASSERT_FALSE(HasFatalFailure());
  const auto f = GgufFile::open(model);
  int checked = 0;
  for (const auto& t : f.tensors()) {
    if (!traits(t.type).ternary) continue;
    ++checked;
    const auto w =
        decode_ternary(t.type, t.data, static_cast<int64_t>(t.n_in()), static_cast<int64_t>(t.n_rows()), t.name);
    EXPECT_EQ(w.weights, read_int8(dir / (t.name + ".codes"))) << t.name;
    const auto py_scales = read_floats(dir / (t.name + ".scales"));
    // Python gives [rows, n_scales] with TERN2's tensor scale repeated per row, like tern.
    EXPECT_EQ(w.scales, py_scales) << t.name;
    EXPECT_EQ(w.groups_per_row() * w.n_rows, static_cast<int64_t>(py_scales.size())) << t.name;
    // tern's encoder reproduces the Python encoder's bytes exactly.
    const auto bytes = encode_ternary(t.type, w);
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), t.data.begin(), t.data.end())) << t.name;
  }
  EXPECT_EQ(checked, 7);
}

INSTANTIATE_TEST_SUITE_P(Types, TernaryFormatsPython, ::testing::Values("tq1_0", "tq2_0", "tern2"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tern::testing
