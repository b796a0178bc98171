// The reference kernels (the spec every fast kernel is tested against) checked against
// independently written arithmetic: activation quantization (docs/FORMAT.md 4), the
// ternary and float matrix-vector products, and the f16/bf16 conversions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/activation_quant.h"
#include "kernels/dequantize.h"
#include "kernels/float16.h"
#include "kernels/matvec_ref.h"
#include "kernels/ternary_formats.h"
#include "kernels/ternary_matrix.h"
#include "tern/error.h"
#include "test_support.h"

namespace tern::testing {
namespace {

// ---------------------------------------------------------------- independent helpers

// IEEE binary16 -> double, straight from the definition.
double half_value(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double v;
  if (exponent == 0x1f)
    v = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exponent == 0) v = std::ldexp(mantissa, -24);
  else v = std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -v : v;
}

double bf16_value(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Nearest of two adjacent candidates by exact comparison in double, ties to the even
// (low bit 0) one.
uint16_t nearest(double x, uint16_t lo, uint16_t hi, double vlo, double vhi) {
  const double dlo = std::fabs(x - vlo), dhi = std::fabs(x - vhi);
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1) ? hi : lo;
}

// Round-to-nearest-even f32 -> f16 found by searching the f16 magnitudes, then
// handling overflow as IEEE does: anything at or beyond 65520 becomes infinity.
uint16_t half_by_search(float f) {
  const uint16_t sign = (bits_of(f) >> 16) & 0x8000;
  const double x = std::fabs(static_cast<double>(f));
  if (x >= 65520.0) return sign | 0x7c00;
  // Binary search the largest magnitude code <= x among 0x0000..0x7bff (monotonic).
  uint16_t lo = 0, hi = 0x7bff;
  while (lo < hi) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (half_value(mid) <= x) lo = mid;
    else hi = static_cast<uint16_t>(mid - 1);
  }
  if (lo == 0x7bff) return sign | nearest(x, 0x7bff, 0x7c00, 65504.0, 65536.0);
  return sign | nearest(x, lo, static_cast<uint16_t>(lo + 1), half_value(lo), half_value(lo + 1));
}

uint16_t bf16_by_search(float f) {
  // Truncation gives the candidate below (in magnitude); the next code is above.
  const uint16_t lo = static_cast<uint16_t>(bits_of(f) >> 16);
  const uint16_t hi = static_cast<uint16_t>(lo + 1);
  return nearest(std::fabs(static_cast<double>(f)), lo, hi, std::fabs(bf16_value(lo)), std::fabs(bf16_value(hi)));
}

// Rounds half to even without the FPU rounding mode: the spec of round_half_even.
int round_half_even(double v) {
  const double f = std::floor(v);
  const double frac = v - f;
  int r = static_cast<int>(f);
  if (frac > 0.5 || (frac == 0.5 && (r % 2 != 0))) ++r;
  return r;
}

// ---------------------------------------------------------------- activation quantization

TEST(ActivationQuant, TiesRoundToEven) {
  // amax = 127, so x * 127 / amax = x exactly and only the rounding is tested.
  const std::vector<float> x = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, 126.5f, -127};
  QuantizedActivations q;
  quantize_activations(x, q);
  EXPECT_EQ(q.q, (std::vector<int8_t>{127, 0, 2, 2, 0, -2, -2, 4, 126, -127}));
  EXPECT_EQ(q.scale, 1.0f);
}

TEST(ActivationQuant, TheBriefsExample) {
  const std::vector<float> x = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f};
  QuantizedActivations q;
  quantize_activations(x, q);
  EXPECT_EQ(q.q, (std::vector<int8_t>{127, 0, 2, 2, 0, -2}));
}

TEST(ActivationQuant, NegativeAbsMaxAndHalfScale) {
  // amax 254: x * 127 / 254 = x / 2.
  const std::vector<float> x = {-254, 127, 1, 3, -5, 253};
  QuantizedActivations q;
  quantize_activations(x, q);
  EXPECT_EQ(q.q, (std::vector<int8_t>{-127, 64, 0, 2, -2, 126}));
  EXPECT_EQ(q.scale, 2.0f);
}

TEST(ActivationQuant, AllZerosAndReuse) {
  QuantizedActivations q;
  quantize_activations(std::vector<float>{5, 6, 7, 8, 9}, q);
  quantize_activations(std::vector<float>{0, -0.0f, 0}, q);
  EXPECT_EQ(q.q, (std::vector<int8_t>{0, 0, 0}));
  EXPECT_EQ(q.scale, 0.0f);
  quantize_activations(std::vector<float>{}, q);
  EXPECT_TRUE(q.q.empty());
  EXPECT_EQ(q.scale, 0.0f);
}

TEST(ActivationQuant, RandomVectorsFollowTheSpecFormula) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0, 3);
  QuantizedActivations q;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<float> x(1 + rng() % 200);
    for (auto& v : x) v = normal(rng);
    // Some values on exact bf16 grids make ties likely.
    if (trial % 2)
      for (auto& v : x) v = static_cast<float>(bf16_value(static_cast<uint16_t>(bits_of(v) >> 16)));
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    quantize_activations(x, q);
    ASSERT_EQ(q.q.size(), x.size());
    EXPECT_EQ(q.scale, amax / 127.0f);
    for (size_t i = 0; i < x.size(); ++i) {
      const float scaled = (x[i] * 127.0f) / amax;  // the spec: (x_i * 127) / a, in f32
      ASSERT_EQ(q.q[i], round_half_even(scaled)) << x[i] << " amax " << amax;
      ASSERT_LE(std::abs(q.q[i]), 127);
    }
  }
}

// ---------------------------------------------------------------- ternary matvec

struct TernaryCase {
  int64_t n_in, n_rows, group;
};

TEST(TernaryMatvecRef, EqualsAPlainMultiplyAccumulate) {
  std::mt19937 rng(22);
  std::vector<TernaryCase> cases;
  for (int64_t n_in : {1, 2, 3, 4, 5, 7, 13, 31, 63, 64, 65, 100, 127, 255, 256, 257, 300})
    for (int64_t n_rows : {1, 3, 17}) cases.push_back({n_in, n_rows, n_in});  // per-tensor scale
  for (int64_t n_in : {256, 512, 768})
    for (int64_t n_rows : {1, 5}) cases.push_back({n_in, n_rows, 256});  // TQ-style block scales
  std::uniform_real_distribution<float> uniform(-4, 4);
  for (const auto& c : cases) {
    TernaryWeights w;
    w.n_in = c.n_in;
    w.n_rows = c.n_rows;
    w.group = c.group;
    // Bias some matrices towards all-(+1) / all-(-1) so sums reach their extremes.
    const int mode = static_cast<int>(rng() % 4);
    for (int64_t i = 0; i < c.n_in * c.n_rows; ++i)
      w.weights.push_back(static_cast<int8_t>(mode == 0 ? 1 : mode == 1 ? -1 : static_cast<int>(rng() % 3) - 1));
    const int64_t groups = c.n_in / c.group;
    if (groups == 1)
      w.scales.assign(static_cast<size_t>(c.n_rows), std::uniform_real_distribution<float>(0.1f, 2)(rng));
    else
      for (int64_t i = 0; i < c.n_rows * groups; ++i)
        w.scales.push_back(std::uniform_real_distribution<float>(0.1f, 2)(rng));
    const auto m = TernaryMatrix::from_weights(w);

    std::vector<float> x(static_cast<size_t>(c.n_in));
    for (auto& v : x) v = uniform(rng);
    if (mode == 0) x.assign(x.size(), 3.0f);  // q = 127 everywhere: the largest sums
    QuantizedActivations qa;
    quantize_activations(x, qa);

    std::vector<int32_t> acc(static_cast<size_t>(c.n_rows * groups), -999);
    std::vector<float> y(static_cast<size_t>(c.n_rows), -999.0f);
    ternary_matvec_ref(m, qa, acc.data(), y.data());
    std::vector<int32_t> acc2(acc.size(), -999);
    ternary_row_sums_ref(m, qa.q.data(), acc2.data());

    for (int64_t r = 0; r < c.n_rows; ++r) {
      double expected = 0;
      for (int64_t g = 0; g < groups; ++g) {
        int64_t sum = 0;  // plain int multiply-accumulate
        for (int64_t k = g * c.group; k < (g + 1) * c.group; ++k)
          sum += int64_t{w.weights[r * c.n_in + k]} * int64_t{qa.q[k]};
        ASSERT_EQ(acc[r * groups + g], sum) << c.n_in << "x" << c.n_rows << " row " << r << " group " << g;
        ASSERT_EQ(acc2[r * groups + g], sum);
        expected += static_cast<double>(w.scales[r * groups + g]) * static_cast<double>(sum);
      }
      expected *= qa.scale;
      double magnitude = 0;
      for (int64_t g = 0; g < groups; ++g) magnitude += std::fabs(w.scales[r * groups + g]) * 127.0 * c.group;
      EXPECT_NEAR(y[r], expected, 1e-6 * magnitude * qa.scale + 1e-30)
          << c.n_in << "x" << c.n_rows << " group " << c.group << " row " << r;
    }
  }
}

TEST(TernaryMatvecRef, ZeroActivationsGiveZero) {
  TernaryWeights w;
  w.n_in = 10;
  w.n_rows = 2;
  w.group = 10;
  w.weights.assign(20, 1);
  w.scales.assign(2, 1.5f);
  const auto m = TernaryMatrix::from_weights(w);
  QuantizedActivations qa;
  quantize_activations(std::vector<float>(10, 0.0f), qa);
  std::vector<int32_t> acc(2);
  std::vector<float> y(2, 1.0f);
  ternary_matvec_ref(m, qa, acc.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 0}));
}

// The TritTriples layout (AVX-512) holds exactly the weights it was given, on shapes
// that end mid-word, mid-segment and mid-block of 32 rows, with TQ block scales too; its
// lane scales repeat the row scales, zero past the last row.
TEST(TernaryMatrixLayouts, TritTriplesKeepsEveryWeightAndScale) {
  std::mt19937 rng(23);
  struct Shape {
    int64_t n_in, n_rows, group;
  };
  for (const Shape s :
       {Shape{1, 1, 1}, Shape{8, 33, 8}, Shape{9, 32, 9}, Shape{10, 31, 10}, Shape{255, 5, 255}, Shape{256, 64, 256},
        Shape{257, 7, 257}, Shape{576, 70, 576}, Shape{768, 40, 256}, Shape{1536, 3, 256}}) {
    TernaryWeights w;
    w.n_in = s.n_in;
    w.n_rows = s.n_rows;
    w.group = s.group;
    for (int64_t i = 0; i < s.n_in * s.n_rows; ++i)
      w.weights.push_back(static_cast<int8_t>(static_cast<int>(rng() % 3) - 1));
    for (int64_t i = 0; i < s.n_rows * w.groups_per_row(); ++i) w.scales.push_back(0.5f + static_cast<float>(i));
    const auto m = TernaryMatrix::from_weights(w, TernaryLayout::TritTriples);
    EXPECT_EQ(m.words_per_row, s.n_in / 256 * 29 + (s.n_in % 256 + 8) / 9) << s.n_in;
    for (int64_t r = 0; r < s.n_rows; ++r)
      for (int64_t c = 0; c < s.n_in; ++c)
        ASSERT_EQ(int(m.weight(r, c)), int(w.weights[r * s.n_in + c]))
            << s.n_in << "x" << s.n_rows << " at " << r << "," << c;
    const int64_t groups = w.groups_per_row();
    for (int64_t r = 0; r < m.row_blocks() * 32; ++r)
      for (int64_t g = 0; g < groups; ++g)
        EXPECT_EQ(m.lane_scales[((r / 32) * groups + g) * 32 + r % 32], r < s.n_rows ? w.scales[r * groups + g] : 0.0f);
  }
}

// ---------------------------------------------------------------- float matvec

// Builds random row data of `type` and its exactly dequantized values (independently).
void random_float_rows(TensorType type, int64_t n_in, int64_t n_rows, std::mt19937& rng, std::vector<uint8_t>& data,
                       std::vector<double>& values) {
  std::normal_distribution<float> normal(0, 1);
  data.clear();
  values.clear();
  for (int64_t r = 0; r < n_rows; ++r) {
    switch (type) {
      case TensorType::F32:
        for (int64_t i = 0; i < n_in; ++i) {
          const float v = normal(rng);
          const auto* p = reinterpret_cast<const uint8_t*>(&v);
          data.insert(data.end(), p, p + 4);
          values.push_back(v);
        }
        break;
      case TensorType::F16:
      case TensorType::BF16:
        for (int64_t i = 0; i < n_in; ++i) {
          uint16_t h;
          do h = static_cast<uint16_t>(rng());
          while (type == TensorType::F16 ? ((h & 0x7c00) == 0x7c00 || (h & 0x7c00) > 0x5000)
                                         : ((h & 0x7f80) == 0x7f80 || (h & 0x7f80) > 0x4500 || (h & 0x7f80) < 0x3000));
          data.push_back(static_cast<uint8_t>(h & 0xff));
          data.push_back(static_cast<uint8_t>(h >> 8));
          values.push_back(type == TensorType::F16 ? half_value(h) : bf16_value(h));
        }
        break;
      case TensorType::Q8_0:
        for (int64_t b = 0; b < n_in / 32; ++b) {
          uint16_t d;
          do d = static_cast<uint16_t>(rng());
          while ((d & 0x7c00) == 0x7c00 || (d & 0x7c00) > 0x4000);
          data.push_back(static_cast<uint8_t>(d & 0xff));
          data.push_back(static_cast<uint8_t>(d >> 8));
          for (int i = 0; i < 32; ++i) {
            const auto q = static_cast<int8_t>(rng());
            data.push_back(static_cast<uint8_t>(q));
            values.push_back(half_value(d) * q);
          }
        }
        break;
      default: FAIL();
    }
  }
}

TEST(FloatMatvecRef, MatchesADoublePrecisionDot) {
  std::mt19937 rng(23);
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0}) {
    const std::vector<int64_t> widths = type == TensorType::Q8_0
                                            ? std::vector<int64_t>{32, 64, 96, 288}
                                            : std::vector<int64_t>{1, 2, 3, 5, 31, 64, 100, 257, 300};
    for (int64_t n_in : widths) {
      for (int64_t n_rows : {1, 4, 9}) {
        std::vector<uint8_t> data;
        std::vector<double> w;
        random_float_rows(type, n_in, n_rows, rng, data, w);
        ASSERT_EQ(data.size(), tensor_bytes(type, n_in, n_rows));
        std::vector<float> x(static_cast<size_t>(n_in));
        std::normal_distribution<float> normal(0, 1);
        for (auto& v : x) v = normal(rng);
        std::vector<float> scratch(static_cast<size_t>(n_in)), y(static_cast<size_t>(n_rows));
        float_matvec_ref(type, data.data(), n_in, n_rows, x.data(), scratch.data(), y.data());
        for (int64_t r = 0; r < n_rows; ++r) {
          double dot = 0, magnitude = 0;
          for (int64_t i = 0; i < n_in; ++i) {
            dot += w[r * n_in + i] * x[i];
            magnitude += std::fabs(w[r * n_in + i] * x[i]);
          }
          EXPECT_NEAR(y[r], dot, 1e-6 * magnitude * (1 + n_in / 16.0) + 1e-30)
              << tensor_type_name(type) << " " << n_in << "x" << n_rows << " row " << r;
        }
        // And dequantize_row gives the exact values.
        std::vector<float> row(static_cast<size_t>(n_in));
        dequantize_row(type, data.data() + row_bytes(type, n_in) * (n_rows - 1), row.data(), n_in);
        for (int64_t i = 0; i < n_in; ++i) ASSERT_EQ(row[i], static_cast<float>(w[(n_rows - 1) * n_in + i]));
      }
    }
  }
}

TEST(Dequantize, QuantizeRowRoundTripsExactlyRepresentableValues) {
  // Values on each type's grid survive quantize_row -> dequantize_row unchanged.
  const std::vector<float> f16_grid = {0, 1, -2, 0.5f, 65504, -0.000061035156f, 5.9604645e-8f, 1.5f, 3.140625f};
  for (TensorType type : {TensorType::F32, TensorType::F16}) {
    std::vector<uint8_t> bytes;
    quantize_row(type, f16_grid, bytes);
    ASSERT_EQ(bytes.size(), row_bytes(type, f16_grid.size()));
    std::vector<float> back(f16_grid.size());
    dequantize_row(type, bytes.data(), back.data(), static_cast<int64_t>(back.size()));
    EXPECT_EQ(back, f16_grid) << tensor_type_name(type);
  }
  const std::vector<float> bf16_grid = {0, 1, -2, 0.5f, 3.3895314e38f, 1.171875f, 9.1835e-41f, 0.1f};
  std::vector<uint8_t> bytes;
  quantize_row(TensorType::BF16, bf16_grid, bytes);
  std::vector<float> back(bf16_grid.size());
  dequantize_row(TensorType::BF16, bytes.data(), back.data(), static_cast<int64_t>(back.size()));
  for (size_t i = 0; i < bf16_grid.size(); ++i)
    EXPECT_EQ(back[i], static_cast<float>(bf16_value(bf16_by_search(bf16_grid[i])))) << i;
  // Q8_0: a block whose amax is 127 and whose values are integers has d = 1, exact q.
  std::vector<float> q8(64);
  for (int i = 0; i < 64; ++i) q8[i] = static_cast<float>((i * 37) % 255 - 127);
  q8[3] = 127;
  q8[40] = -127;
  bytes.clear();
  quantize_row(TensorType::Q8_0, q8, bytes);
  ASSERT_EQ(bytes.size(), 68u);
  EXPECT_EQ(bytes[0] | (bytes[1] << 8), 0x3c00);  // d = 1.0
  back.resize(64);
  dequantize_row(TensorType::Q8_0, bytes.data(), back.data(), 64);
  EXPECT_EQ(back, q8);
}

// ---------------------------------------------------------------- K-quants

std::string hex_of(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) out += {digits[b >> 4], digits[b & 15]};
  return out;
}

// tools/reference/gguf.py's numpy decoding (written from the format, not from tern) of
// the same bytes, as floats.
std::vector<float> python_dequantize(TensorType type, const std::vector<uint8_t>& bytes, int64_t n_in, int64_t n_rows,
                                     const std::filesystem::path& dir) {
  const std::string out = run_python_script("raw = bytes.fromhex('" + hex_of(bytes) +
                                                "')\n"
                                                "y = gguf.dequantize(" +
                                                std::to_string(static_cast<uint32_t>(type)) + ", [" +
                                                std::to_string(n_in) + ", " + std::to_string(n_rows) +
                                                "], raw)\n"
                                                "print(json.dumps([float(v) for v in y.reshape(-1)]))\n",
                                            dir);
  std::vector<float> values;
  std::string number;
  for (char c : out) {
    if (c == ',' || c == ']') {
      if (!number.empty()) values.push_back(std::stof(number));
      number.clear();
    } else if (c != '[' && c != ' ' && c != '\n') {
      number += c;
    }
  }
  return values;
}

// tern's decoding of n_rows rows of n_in weights of `type`, row by row as the kernels do.
std::vector<float> dequantize_rows(TensorType type, const std::vector<uint8_t>& bytes, int64_t n_in, int64_t n_rows) {
  std::vector<float> out(static_cast<size_t>(n_in * n_rows));
  for (int64_t r = 0; r < n_rows; ++r)
    dequantize_row(type, bytes.data() + r * row_bytes(type, n_in), out.data() + r * n_in, n_in);
  return out;
}

// Q4_K and Q6_K super-blocks (the K-quants of llama.cpp's TQ1_0 / TQ2_0 files) decode to
// the reference's values: random bytes reach every bit of the packed scales, mins and
// quants.
TEST(Dequantize, KQuantsMatchThePythonReference) {
  TempDir dir;
  for (TensorType type : {TensorType::Q4_K, TensorType::Q6_K}) {
    const int64_t n_in = 512, n_rows = 3;
    const auto bytes = random_k_quant_rows(type, n_in, n_rows, 7);
    const auto want = python_dequantize(type, bytes, n_in, n_rows, dir.path());
    ASSERT_EQ(want.size(), static_cast<size_t>(n_in * n_rows)) << tensor_type_name(type);
    const std::vector<float> got = dequantize_rows(type, bytes, n_in, n_rows);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-6f * (1.0f + std::fabs(want[i]))) << tensor_type_name(type) << " weight " << i;
  }
}

// tern's Q6_K writer (bench and convert embeddings): the reference decodes its bytes to
// within a quantization step of the input (a packing error would be off by O(max |x|)).
TEST(Dequantize, Q6KWriterIsReadBackByThePythonReference) {
  TempDir dir;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(768);
  for (auto& v : x) v = normal(rng);
  for (int i = 0; i < 16; ++i) x[300 + i] = 0.0f;  // an all-zero sub-block
  std::vector<uint8_t> bytes;
  quantize_row(TensorType::Q6_K, x, bytes);
  ASSERT_EQ(bytes.size(), row_bytes(TensorType::Q6_K, x.size()));
  const auto back = python_dequantize(TensorType::Q6_K, bytes, static_cast<int64_t>(x.size()), 1, dir.path());
  ASSERT_EQ(back.size(), x.size());
  for (size_t j = 0; j < x.size() / 16; ++j) {
    float amax = 0;
    for (size_t i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[j * 16 + i]));
    for (size_t i = 0; i < 16; ++i)  // step ~ amax / 31; rounding to f16 / int8 scales adds a little
      EXPECT_NEAR(back[j * 16 + i], x[j * 16 + i], 0.6f * amax / 31.0f + 1e-7f) << "weight " << j * 16 + i;
  }
  EXPECT_THROW(quantize_row(TensorType::Q4_K, x, bytes), Error);  // read-only type: a clear error
}

// Q4_0 blocks (ggml type 2) decode to the reference's values: random bytes reach every
// nibble; the reference's decoding is written from the block layout, not from tern.
TEST(Dequantize, Q4_0MatchesThePythonReference) {
  TempDir dir;
  const int64_t n_in = 96, n_rows = 5;
  const auto bytes = random_k_quant_rows(TensorType::Q4_0, n_in, n_rows, 11);
  ASSERT_EQ(bytes.size(), static_cast<size_t>(n_rows * 3 * 18));
  const auto want = python_dequantize(TensorType::Q4_0, bytes, n_in, n_rows, dir.path());
  ASSERT_EQ(want.size(), static_cast<size_t>(n_in * n_rows));
  const std::vector<float> got = dequantize_rows(TensorType::Q4_0, bytes, n_in, n_rows);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "weight " << i;  // d * small int: exact
}

// tern's Q4_0 writer: each block's value of largest magnitude comes back exactly (it is
// -8 d, up to d's f16 rounding), every other value within half a step |d| = max|x| / 8,
// except that the side opposite the extreme stops at +7 steps (Q4_0's asymmetry); the
// reference decodes the bytes. Rows that are not whole 32-blocks are refused.
TEST(Dequantize, Q4_0WriterIsReadBackByThePythonReference) {
  TempDir dir;
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(576);
  for (auto& v : x) v = normal(rng);
  for (int i = 0; i < 32; ++i) x[64 + i] = 0.0f;  // an all-zero block
  x[100] = 9.0f;                                  // a positive extreme: d < 0
  std::vector<uint8_t> bytes;
  quantize_row(TensorType::Q4_0, x, bytes);
  ASSERT_EQ(bytes.size(), row_bytes(TensorType::Q4_0, x.size()));
  ASSERT_EQ(bytes.size(), 18u * 18u);
  const auto back = python_dequantize(TensorType::Q4_0, bytes, static_cast<int64_t>(x.size()), 1, dir.path());
  ASSERT_EQ(back.size(), x.size());
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    for (size_t i = 0; i < 32; ++i) {
      const size_t at = b * 32 + i;
      if (std::fabs(x[at]) == amax)  // the extreme itself: exact up to the f16 rounding of d
        EXPECT_NEAR(back[at], x[at], amax * 1e-3f) << "weight " << at;
      else  // half a step or the clamp at 7 steps, plus d's f16 rounding times 8 steps
        EXPECT_NEAR(back[at], x[at], std::max(0.5f * amax / 8.0f, std::fabs(x[at]) - 7.0f * amax / 8.0f) + amax * 1e-3f)
            << "weight " << at;
    }
  }
  EXPECT_THROW(quantize_row(TensorType::Q4_0, std::vector<float>(40, 1.0f), bytes), Error);
}

// ---------------------------------------------------------------- f16 / bf16

TEST(Float16, KnownBitPatterns) {
  const std::pair<uint16_t, float> known[] = {{0x3c00, 1.0f},
                                              {0xbc00, -1.0f},
                                              {0x3800, 0.5f},
                                              {0xc000, -2.0f},
                                              {0x7bff, 65504.0f},
                                              {0xfbff, -65504.0f},
                                              {0x0001, 5.9604644775390625e-8f},
                                              {0x03ff, 6.097555160522461e-5f},
                                              {0x0400, 6.103515625e-5f},
                                              {0x0000, 0.0f},
                                              {0x3555, 0.333251953125f},
                                              {0x4248, 3.140625f},
                                              {0x7c00, std::numeric_limits<float>::infinity()},
                                              {0xfc00, -std::numeric_limits<float>::infinity()}};
  for (const auto& [bits, value] : known) {
    EXPECT_EQ(f16_to_f32(bits), value) << std::hex << bits;
    EXPECT_EQ(f32_to_f16(value), bits) << value;
  }
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(bits_of(f16_to_f32(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0xfc01)));
  const uint16_t nan_half = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan_half & 0x7c00, 0x7c00);
  EXPECT_NE(nan_half & 0x03ff, 0);
}

TEST(Float16, RoundsToNearestEven) {
  const std::pair<float, uint16_t> cases[] = {
      {1.0f + 0x1p-11f, 0x3c00},             // halfway between 0x3c00 and 0x3c01: even is 0x3c00
      {1.0f + 3 * 0x1p-11f, 0x3c02},         // halfway between 0x3c01 and 0x3c02: even is 0x3c02
      {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},  // just above halfway
      {1.0f + 0x1p-11f - 0x1p-20f, 0x3c00},
      {65519.0f, 0x7bff},  // below the halfway point to 65536
      {65520.0f, 0x7c00},  // halfway to 2^16: even is "65536" = infinity
      {1e6f, 0x7c00},
      {0x1p-25f, 0x0000},      // half the smallest subnormal: even is 0
      {3 * 0x1p-25f, 0x0002},  // between 1 and 2 subnormal steps: even is 2
      {0x1p-25f * 1.0001f, 0x0001},
      {0x1p-26f, 0x0000},
      {0x3ffp-24f + 0x1p-25f, 0x0400},  // largest subnormal + half a step: even is the smallest normal
      {0x1p-14f - 0x1p-26f, 0x0400},
      {2049.0f, 0x6800},  // 2048 and 2050 are neighbours: 2049 ties to even 2048
      {2051.0f, 0x6802},  // ties to 2052 (mantissa 2 is even)
      {-2051.0f, 0xe802},
  };
  for (const auto& [value, bits] : cases) {
    EXPECT_EQ(f32_to_f16(value), bits) << value;
    EXPECT_EQ(half_by_search(value), bits) << "test oracle disagrees at " << value;
  }
}

TEST(Float16, EveryHalfRoundTripsAndMatchesItsDefinition) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = f16_to_f32(bits);
    if ((bits & 0x7c00) == 0x7c00 && (bits & 0x3ff)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), half_value(bits)) << std::hex << h;
    ASSERT_EQ(f32_to_f16(f), bits) << std::hex << h;
  }
}

TEST(Float16, SampledFloatsMatchTheSearchOracle) {
  // Every float whose bits are a multiple of a prime stride, plus the exact midpoints
  // between adjacent halves and their neighbours.
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 4099) {
    const float f = float_of(static_cast<uint32_t>(u));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), half_by_search(f)) << std::hex << u;
  }
  for (uint16_t h = 0; h < 0x7bff; ++h) {
    const float mid = static_cast<float>((half_value(h) + half_value(h + 1)) / 2);  // exact in f32
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      ASSERT_EQ(f32_to_f16(f), half_by_search(f)) << f;
      ASSERT_EQ(f32_to_f16(-f), half_by_search(-f)) << -f;
    }
  }
}

TEST(BFloat16, KnownBitPatternsAndRounding) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_EQ(f32_to_bf16(float_of(0x3f808000)), 0x3f80);  // tie: even
  EXPECT_EQ(f32_to_bf16(float_of(0x3f818000)), 0x3f82);  // tie: even
  EXPECT_EQ(f32_to_bf16(float_of(0x3f808001)), 0x3f81);  // above the tie
  EXPECT_EQ(f32_to_bf16(float_of(0x3f807fff)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(float_of(0x7f7fffff)), 0x7f80);  // rounds up to infinity
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(float_of(0x00000001)), 0x0000);  // tiniest subnormal rounds to 0
  EXPECT_EQ(f32_to_bf16(float_of(0x00008001)), 0x0001);
  const uint16_t nan = f32_to_bf16(float_of(0x7f800001));  // a signalling NaN stays NaN
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x7f, 0);
}

TEST(BFloat16, EveryBf16RoundTripsAndSampledFloatsMatchTheOracle) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<uint16_t>(b);
    if ((bits & 0x7f80) == 0x7f80 && (bits & 0x7f)) continue;  // NaN
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(bits)), bits) << std::hex << b;
  }
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 4099) {
    const float f = float_of(static_cast<uint32_t>(u));
    if (std::isnan(f)) continue;
    if (std::fabs(f) > 3.3895313892515355e38f) continue;  // beyond the largest finite bf16: oracle can't see inf
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
    ASSERT_EQ(f32_to_bf16(f), bf16_by_search(f) | sign) << std::hex << u;
  }
}

}  // namespace
}  // namespace tern::testing
