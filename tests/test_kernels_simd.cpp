// Every SIMD kernel table the CPU supports (AVX2, AVX-512; on ARM64 NEON, dotprod,
// i8mm) against the scalar table:
// ternary products bit-identical (integer sums are exact and the rescale order is
// fixed), float products within rounding, activation quantization byte-identical.
// Tables the CPU lacks are skipped, not failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/cpu_features.h"
#include "kernels/dequantize.h"
#include "kernels/float16.h"
#include "kernels/kernels.h"
#include "kernels/matvec_ref.h"
#include "kernels/ternary_formats.h"
#include "kernels/ternary_matrix.h"
#include "test_support.h"

namespace tern::testing {
namespace {

class SimdKernels : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam(), detect_cpu_features()))
      GTEST_SKIP() << "this CPU does not support " << isa_name(GetParam());
  }
  const KernelTable& simd() const { return kernel_table(GetParam()); }
  const KernelTable& scalar() const { return scalar_kernels(); }
};

// ---------------------------------------------------------------- ternary helpers

enum class WeightFill { Random, SparseRandom, AllPlus, AllMinus };
enum class ActFill { Random, AllPlus, AllMinus };

TernaryWeights make_weights(int64_t n_rows, int64_t n_in, int64_t group, WeightFill fill, std::mt19937& rng) {
  TernaryWeights w;
  w.n_in = n_in;
  w.n_rows = n_rows;
  w.group = group;
  w.weights.resize(static_cast<size_t>(n_rows * n_in));
  std::uniform_int_distribution<int> trit(-1, 1);
  std::uniform_int_distribution<int> sparse(0, 9);  // 80% zeros
  for (auto& v : w.weights) switch (fill) {
      case WeightFill::Random: v = static_cast<int8_t>(trit(rng)); break;
      case WeightFill::SparseRandom: {
        const int s = sparse(rng);
        v = static_cast<int8_t>(s == 0 ? 1 : s == 1 ? -1 : 0);
        break;
      }
      case WeightFill::AllPlus: v = 1; break;
      case WeightFill::AllMinus: v = -1; break;
    }
  // Differing scales, so a kernel mixing up groups or rows shows.
  std::uniform_real_distribution<float> scale(0.01f, 2.0f);
  w.scales.resize(static_cast<size_t>(n_rows * w.groups_per_row()));
  for (auto& s : w.scales) s = scale(rng);
  return w;
}

// n_tok tokens of raw int8 activations, each zero-padded to n_in_padded.
std::vector<int8_t> make_activations(int64_t n_tok, int64_t n_in, int64_t n_in_padded, ActFill fill,
                                     std::mt19937& rng) {
  std::vector<int8_t> q(static_cast<size_t>(n_tok * n_in_padded), 0);
  std::uniform_int_distribution<int> value(-127, 127);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t i = 0; i < n_in; ++i)
      q[static_cast<size_t>(t * n_in_padded + i)] = static_cast<int8_t>(fill == ActFill::AllPlus    ? 127
                                                                        : fill == ActFill::AllMinus ? -127
                                                                                                    : value(rng));
  return q;
}

// Activations in one table's own order, with a stride past n_in_padded (and the gap
// filled with junk a kernel must never read as data).
struct Prepared {
  AlignedBuffer<int8_t> q;
  std::vector<float> scale;
  PreparedActivations view;
};

Prepared prepare(const KernelTable& k, const std::vector<int8_t>& raw, int64_t n_tok, int64_t n_in,
                 const std::vector<float>& scale) {
  const int64_t n_in_padded = padded_to_chunks(n_in);
  const int64_t stride = k.prepared_bytes(n_in) + 64;
  Prepared p;
  p.q.assign(static_cast<size_t>(n_tok * stride), int8_t{99});
  p.scale = scale;
  for (int64_t t = 0; t < n_tok; ++t) {
    int8_t* q = p.q.data() + t * stride;
    k.prepare_ternary(raw.data() + t * n_in_padded, n_in, q);
  }
  p.view = PreparedActivations{p.q.data(), p.scale.data(), stride, n_tok};
  return p;
}

constexpr float kUntouched = 12345.0f;

// y[n_tok, n_rows] from rows [row_begin, row_end) of w, packed in the layout the table
// reads; other entries keep kUntouched.
std::vector<float> run_ternary(const KernelTable& k, const TernaryWeights& w, const std::vector<int8_t>& raw,
                               int64_t n_tok, const std::vector<float>& scale, int64_t row_begin, int64_t row_end,
                               bool streamed = true) {
  TernaryMatrix m = TernaryMatrix::from_weights(w, k.layout);
  m.streamed = streamed;
  const Prepared p = prepare(k, raw, n_tok, m.n_in, scale);
  std::vector<float> y(static_cast<size_t>(n_tok * m.n_rows), kUntouched);
  k.matmul_ternary(m, p.view, row_begin, row_end, y.data(), m.n_rows);
  return y;
}

// Runs one case through the SIMD and scalar tables and requires identical floats.
void expect_ternary_identical(const KernelTable& simd, const TernaryWeights& m, const std::vector<int8_t>& raw,
                              int64_t n_tok, const std::vector<float>& scale, int64_t row_begin, int64_t row_end,
                              const std::string& what) {
  const auto want = run_ternary(scalar_kernels(), m, raw, n_tok, scale, row_begin, row_end);
  const auto got = run_ternary(simd, m, raw, n_tok, scale, row_begin, row_end);
  int failures = 0;
  for (size_t i = 0; i < want.size() && failures < 5; ++i)
    if (!(got[i] == want[i])) {
      ADD_FAILURE() << what << ": token " << i / m.n_rows << " row " << i % m.n_rows << ": got " << got[i]
                    << ", scalar " << want[i];
      ++failures;
    }
}

std::string describe(int64_t n_in, int64_t n_rows, int64_t n_tok, int64_t group, int64_t r0, int64_t r1) {
  return "n_in " + std::to_string(n_in) + " rows " + std::to_string(n_rows) + " [" + std::to_string(r0) + ", " +
         std::to_string(r1) + ") tokens " + std::to_string(n_tok) + " group " + std::to_string(group);
}

// ---------------------------------------------------------------- ternary tests

TEST_P(SimdKernels, TernaryMatchesScalarOnAwkwardShapes) {
  std::mt19937 rng(1234);
  const int64_t n_ins[] = {1, 3, 16, 63, 64, 65, 100, 127, 128, 129, 191, 192, 255, 256, 257, 576, 960, 1000, 1536};
  const int64_t n_rows_list[] = {1, 2, 3, 4, 5, 7, 9, 33};
  // Token counts around the kernels' tiles (4), first tiles (one token from 3 up) and passes (32).
  const int64_t n_toks[] = {1, 2, 3, 4, 5, 7, 9, 34};
  std::uniform_real_distribution<float> act_scale(0.001f, 0.1f);
  for (const int64_t n_in : n_ins)
    for (const int64_t n_rows : n_rows_list) {
      std::vector<int64_t> groups = {n_in};
      if (n_in % 256 == 0) groups.push_back(256);
      for (const int64_t group : groups) {
        const auto fill = (n_rows % 2 == 0) ? WeightFill::SparseRandom : WeightFill::Random;
        const TernaryWeights m = make_weights(n_rows, n_in, group, fill, rng);
        for (const int64_t n_tok : n_toks) {
          const auto raw = make_activations(n_tok, n_in, padded_to_chunks(n_in), ActFill::Random, rng);
          std::vector<float> scale(static_cast<size_t>(n_tok));
          for (auto& s : scale) s = act_scale(rng);
          expect_ternary_identical(simd(), m, raw, n_tok, scale, 0, n_rows,
                                   describe(n_in, n_rows, n_tok, group, 0, n_rows));
          // A row range not starting at 0 (and not ending at n_rows when possible).
          if (n_rows >= 2) {
            const int64_t r1 = n_rows >= 3 ? n_rows - 1 : n_rows;
            expect_ternary_identical(simd(), m, raw, n_tok, scale, 1, r1, describe(n_in, n_rows, n_tok, group, 1, r1));
          }
          if (HasFailure()) return;
        }
      }
    }
}

// Extreme sums: every weight +1 or -1 against every activation +127 or -127, on rows
// long enough to cross the kernels' int16 accumulation blocks (and an odd last chunk).
TEST_P(SimdKernels, TernaryExtremeSumsDoNotOverflow) {
  std::mt19937 rng(99);
  const int64_t n_ins[] = {64, 1536, 3968, 4032, 4096, 4160, 8000, 8192};
  for (const int64_t n_in : n_ins)
    for (const auto wfill : {WeightFill::AllPlus, WeightFill::AllMinus})
      for (const auto afill : {ActFill::AllPlus, ActFill::AllMinus}) {
        std::vector<int64_t> groups = {n_in};
        if (n_in % 256 == 0) groups.push_back(256);
        for (const int64_t group : groups) {
          // 5 tokens: per-tile decoding; 9: rows decoded once per call (AVX2).
          for (const int64_t n_tok : {5, 9}) {
            const int64_t n_rows = 5;
            const TernaryWeights m = make_weights(n_rows, n_in, group, wfill, rng);
            const auto raw = make_activations(n_tok, n_in, padded_to_chunks(n_in), afill, rng);
            const std::vector<float> scale(n_tok, 1.0f);
            const std::string what = describe(n_in, n_rows, n_tok, group, 0, n_rows);
            expect_ternary_identical(simd(), m, raw, n_tok, scale, 0, n_rows, what);
            // And the value itself: each group sums to 127 * group with the sign of
            // weight * activation.
            const auto got = run_ternary(simd(), m, raw, n_tok, scale, 0, n_rows);
            const double sign = (wfill == WeightFill::AllPlus) == (afill == ActFill::AllPlus) ? 1.0 : -1.0;
            for (int64_t r = 0; r < n_rows; ++r) {
              double want = 0;
              for (int64_t g = 0; g < m.groups_per_row(); ++g)
                want += m.scales[static_cast<size_t>(r * m.groups_per_row() + g)] * sign * 127.0 * group;
              for (int64_t t = 0; t < n_tok; ++t)
                EXPECT_NEAR(got[static_cast<size_t>(t * n_rows + r)], want, 1e-5 * std::fabs(want)) << what;
            }
          }
        }
      }
}

// Every token count from 1 to 20 and passes of more than 64 tokens, over the widths of
// the bench shapes, TQ 256-groups, row counts that are not a multiple of the kernels'
// row tiles, row ranges inside the matrix, rows past one int16 block of 2048 weights
// and past the longest row AVX2 decodes once per call (8192): every tile and tail of
// the several-token kernels (AVX2: rows decoded to bytes once per call from 8 tokens).
TEST_P(SimdKernels, TernaryTokenTilesMatchScalar) {
  std::mt19937 rng(21);
  std::vector<int64_t> every_count(20);
  for (int64_t i = 0; i < 20; ++i) every_count[static_cast<size_t>(i)] = i + 1;
  every_count.push_back(70);
  const std::vector<int64_t> few_counts = {8, 13, 70};
  const std::pair<int64_t, const std::vector<int64_t>*> cases[] = {{576, &every_count},  {960, &every_count},
                                                                   {1536, &every_count}, {2112, &few_counts},
                                                                   {8192, &few_counts},  {8256, &few_counts}};
  for (const auto& [n_in, counts] : cases) {
    std::vector<int64_t> groups = {n_in};
    if (n_in % 256 == 0) groups.push_back(256);
    for (const int64_t group : groups) {
      const int64_t n_rows = 29;
      const TernaryWeights m = make_weights(n_rows, n_in, group, WeightFill::Random, rng);
      for (const int64_t n_tok : *counts) {
        const auto raw = make_activations(n_tok, n_in, padded_to_chunks(n_in), ActFill::Random, rng);
        std::vector<float> scale(static_cast<size_t>(n_tok));
        std::uniform_real_distribution<float> act_scale(0.001f, 0.1f);
        for (auto& s : scale) s = act_scale(rng);
        for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, n_rows}, {2, 27}})
          expect_ternary_identical(simd(), m, raw, n_tok, scale, r0, r1, describe(n_in, n_rows, n_tok, group, r0, r1));
        if (HasFailure()) return;
      }
    }
  }
}

// Products large enough for every order the kernels choose between: one token against
// tables past L1 (blocks in groups of four, the last group partial), several tokens in
// 4-token tiles, more than one 32-token pass, and thread-like row slices that start and
// end inside a 32-row block.
TEST_P(SimdKernels, TernaryLoopOrdersMatchScalar) {
  std::mt19937 rng(5);
  for (const int64_t n_in : {576, 2560, 4160})
    for (const int64_t n_tok : {1, 2, 5, 8, 33}) {
      const int64_t n_rows = 200;
      const TernaryWeights m = make_weights(n_rows, n_in, n_in, WeightFill::Random, rng);
      const auto raw = make_activations(n_tok, n_in, padded_to_chunks(n_in), ActFill::Random, rng);
      const std::vector<float> scale(static_cast<size_t>(n_tok), 0.5f);
      for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, n_rows}, {40, 190}})
        expect_ternary_identical(simd(), m, raw, n_tok, scale, r0, r1, describe(n_in, n_rows, n_tok, n_in, r0, r1));
      if (HasFailure()) return;
    }
}

// A model the last-level cache holds runs the one-token kernels without fetching ahead
// (TernaryMatrix::streamed false): the same sums, also on rows longer than an int16
// block and with an odd last chunk.
TEST_P(SimdKernels, TernaryCacheResidentMatchesScalar) {
  std::mt19937 rng(11);
  for (const int64_t n_in : {64, 576, 1000, 4160}) {
    const int64_t n_rows = 37;
    const TernaryWeights w = make_weights(n_rows, n_in, n_in, WeightFill::Random, rng);
    const auto raw = make_activations(1, n_in, padded_to_chunks(n_in), ActFill::Random, rng);
    const std::vector<float> scale = {0.25f};
    const auto want = run_ternary(scalar_kernels(), w, raw, 1, scale, 0, n_rows);
    const auto got = run_ternary(simd(), w, raw, 1, scale, 0, n_rows, /*streamed=*/false);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "n_in " << n_in << " row " << i;
  }
}

// Unit scales make y the integer sum itself (exact in f32 below 2^24), checked against
// ternary_row_sums_ref directly rather than through the scalar table.
TEST_P(SimdKernels, TernaryIntegerSumsEqualTheReference) {
  std::mt19937 rng(7);
  for (const int64_t n_in : {1, 65, 129, 257, 1000, 1536, 4160})
    for (const auto fill : {WeightFill::Random, WeightFill::SparseRandom}) {
      const int64_t n_rows = 9, n_tok = 3;
      TernaryWeights w = make_weights(n_rows, n_in, n_in, fill, rng);
      std::fill(w.scales.begin(), w.scales.end(), 1.0f);
      const TernaryMatrix m = TernaryMatrix::from_weights(w);  // the spec's own layout
      const auto raw = make_activations(n_tok, n_in, m.n_in_padded, ActFill::Random, rng);
      const auto y = run_ternary(simd(), w, raw, n_tok, std::vector<float>(n_tok, 1.0f), 0, n_rows);
      for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < n_rows; ++r) {
          int32_t acc = 0;
          ternary_row_sums_ref(m, r, raw.data() + t * m.n_in_padded, &acc);
          EXPECT_EQ(y[static_cast<size_t>(t * n_rows + r)], static_cast<float>(acc))
              << "n_in " << n_in << " token " << t << " row " << r;
        }
    }
}

// ---------------------------------------------------------------- dense products

// Q8_0, Q4_0 and Q6_K rows may run against activations rounded to int8 per block (32
// inputs for Q8_0 / Q4_0, 256 for Q6_K: int8 dot products): each x_i moves by at most half a step,
// max|x_b|/254, so the result moves by at most sum_b max|x_b|/254 * sum_{i in b} |w_i|.
double int8_activation_bound(const float* w, const float* x, int64_t n_in, int64_t block) {
  double bound = 0;
  for (int64_t b = 0; b < n_in / block; ++b) {
    double amax = 0, wsum = 0;
    for (int64_t i = block * b; i < block * b + block; ++i) {
      amax = std::max(amax, double(std::fabs(x[i])));
      wsum += std::fabs(double(w[i]));
    }
    bound += amax / 254.0 * wsum * (1 + 1e-5);
  }
  return bound;
}

// The block over which a type's SIMD product may round activations to int8 (0: none).
int64_t int8_activation_block(TensorType type) {
  return type == TensorType::Q8_0 || type == TensorType::Q4_0 ? 32 : type == TensorType::Q6_K ? 256 : 0;
}

// got against want (the scalar product), [n_tok, n_rows] each: rows before r0 untouched,
// the others within float rounding of the dequantized dot product, plus the int8
// activation rounding bound for Q8_0 and Q6_K rows.
void expect_dense_rows_near(TensorType type, const std::vector<uint8_t>& data, int64_t n_in, int64_t n_rows,
                            const std::vector<float>& x, int64_t x_stride, int64_t n_tok, int64_t r0,
                            const std::vector<float>& want, const std::vector<float>& got) {
  const uint64_t stride = row_bytes(type, static_cast<uint64_t>(n_in));
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_rows; ++r) {
    dequantize_row(type, data.data() + r * stride, row.data(), n_in);
    for (int64_t t = 0; t < n_tok; ++t) {
      const size_t at = static_cast<size_t>(t * n_rows + r);
      if (r < r0) {
        EXPECT_EQ(got[at], kUntouched);
        continue;
      }
      double magnitude = 0;
      for (int64_t i = 0; i < n_in; ++i) magnitude += std::fabs(double(row[i]) * x[t * x_stride + i]);
      double bound = 1e-5 * magnitude;
      if (const int64_t block = int8_activation_block(type))
        bound += int8_activation_bound(row.data(), x.data() + t * x_stride, n_in, block);
      EXPECT_NEAR(got[at], want[at], bound) << tensor_type_name(type) << " n_in " << n_in << " rows " << n_rows
                                            << " row " << r << " token " << t << " of " << n_tok;
    }
  }
}

TEST_P(SimdKernels, DenseMatchesScalarWithinRounding) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case {
    TensorType type;
    std::vector<int64_t> n_ins;
  };
  const Case cases[] = {
      {TensorType::F32, {1, 5, 8, 15, 17, 33, 100, 577}},
      {TensorType::F16, {1, 7, 9, 16, 31, 100, 577}},
      {TensorType::BF16, {2, 7, 16, 17, 63, 100, 577}},
      {TensorType::Q8_0, {32, 64, 96, 576}},
      {TensorType::Q4_0, {32, 96, 576, 960}},
      {TensorType::Q4_K, {256, 768}},  // random super-blocks (tern does not write Q4_K)
      {TensorType::Q6_K, {256, 512}},
  };
  for (const auto& c : cases)
    for (const int64_t n_in : c.n_ins)
      for (const int64_t n_rows : {1, 3, 5, 9, 37})  // 37: rows 1..36, groups of 16 + 16 + 4
        for (const int64_t n_tok : {1, 2, 3, 4, 5, 9}) {
          std::vector<uint8_t> data;
          std::vector<float> row(static_cast<size_t>(n_in));
          if (c.type == TensorType::Q4_K)
            data = random_k_quant_rows(c.type, n_in, n_rows, static_cast<uint32_t>(rng()));
          else
            for (int64_t r = 0; r < n_rows; ++r) {
              for (auto& v : row) v = normal(rng);
              quantize_row(c.type, row, data);
            }
          const int64_t x_stride = n_in + 3;
          std::vector<float> x(static_cast<size_t>(n_tok * x_stride));
          for (auto& v : x) v = normal(rng);
          const int64_t r0 = n_rows >= 3 ? 1 : 0;
          std::vector<float> want(static_cast<size_t>(n_tok * n_rows), kUntouched), got = want;
          scalar().matmul_dense(c.type, data.data(), n_in, x.data(), x_stride, n_tok, r0, n_rows, want.data(), n_rows);
          simd().matmul_dense(c.type, data.data(), n_in, x.data(), x_stride, n_tok, r0, n_rows, got.data(), n_rows);
          expect_dense_rows_near(c.type, data, n_in, n_rows, x, x_stride, n_tok, r0, want, got);
          if (HasFailure()) return;
        }
}

// The AVX2 Q4_0 product is an integer dot product per 32-block: activations rounded to
// int8 against max|x| / 127 (nearest even), sum (nibble - 8) * q exact, then d * scale.
// Computed here from the block layout in double, it must agree to float rounding of the
// sum of |products| (a wrong nibble, offset or scale moves it by far more): odd row
// counts, every tile size from 1 to 9 tokens, the 125m and 350m widths.
TEST(Q4_0Avx2, EqualsTheIntegerDotProductOfInt8Activations) {
  if (!isa_supported(Isa::Avx2, detect_cpu_features())) GTEST_SKIP() << "this CPU does not support avx2";
  std::mt19937 rng(20);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t n_in : {32, 576, 960})
    for (const int64_t n_rows : {1, 7, 37}) {
      std::vector<uint8_t> data;
      std::vector<float> row(static_cast<size_t>(n_in));
      for (int64_t r = 0; r < n_rows; ++r) {
        for (auto& v : row) v = normal(rng);
        quantize_row(TensorType::Q4_0, row, data);
      }
      for (int64_t n_tok = 1; n_tok <= 9; ++n_tok) {
        const int64_t x_stride = n_in + 5;
        std::vector<float> x(static_cast<size_t>(n_tok * x_stride));
        for (auto& v : x) v = normal(rng) * (n_tok % 3 == 0 ? 100.0f : 1.0f);
        std::vector<float> got(static_cast<size_t>(n_tok * n_rows), kUntouched);
        kernel_table(Isa::Avx2).matmul_dense(TensorType::Q4_0, data.data(), n_in, x.data(), x_stride, n_tok, 0, n_rows,
                                             got.data(), n_rows);
        for (int64_t t = 0; t < n_tok; ++t)
          for (int64_t r = 0; r < n_rows; ++r) {
            const uint8_t* blocks = data.data() + r * row_bytes(TensorType::Q4_0, n_in);
            double want = 0, magnitude = 0;
            for (int64_t b = 0; b < n_in / 32; ++b) {
              const float* xb = x.data() + t * x_stride + 32 * b;
              float amax = 0;
              for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
              const float inv = amax == 0 ? 0.0f : 127.0f / amax;
              const uint8_t* block = blocks + 18 * b;
              int64_t dot = 0, absolute = 0;
              for (int i = 0; i < 32; ++i) {
                const int nibble = i < 16 ? block[2 + i] & 0xF : block[2 + i - 16] >> 4;
                const int64_t product = (nibble - 8) * static_cast<int64_t>(std::nearbyint(xb[i] * inv));
                dot += product;
                absolute += std::abs(product);
              }
              uint16_t d16;
              std::memcpy(&d16, block, 2);
              const double step = std::fabs(double(f16_to_f32(d16)) * double(amax / 127.0f));
              want += double(f16_to_f32(d16)) * double(amax / 127.0f) * double(dot);
              magnitude += step * double(absolute);
            }
            EXPECT_NEAR(got[static_cast<size_t>(t * n_rows + r)], want, 1e-6 * magnitude + 1e-30)
                << "n_in " << n_in << " rows " << n_rows << " row " << r << " token " << t << " of " << n_tok;
          }
        if (::testing::Test::HasFailure()) return;
      }
    }
}

TEST_P(SimdKernels, DotAndAxpyMatchScalarWithinRounding) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n = 0; n <= 80; n = n < 40 ? n + 1 : n + 7) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    for (auto& v : a) v = normal(rng);
    for (auto& v : b) v = normal(rng);
    double magnitude = 0;
    for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(double(a[i]) * b[i]);
    EXPECT_NEAR(simd().dot(a.data(), b.data(), n), scalar().dot(a.data(), b.data(), n), 1e-5 * magnitude) << "n " << n;

    const float alpha = normal(rng);
    std::vector<float> y_simd = b, y_scalar = b;
    simd().axpy(alpha, a.data(), y_simd.data(), n);
    scalar().axpy(alpha, a.data(), y_scalar.data(), n);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(y_simd[i], y_scalar[i], 1e-6 * (std::fabs(b[i]) + std::fabs(alpha * a[i])))
          << "n " << n << " i " << i;
  }
  // A long vector, where the accumulation order differs the most.
  std::vector<float> a(4099), b(4099);
  for (auto& v : a) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  double magnitude = 0;
  for (size_t i = 0; i < a.size(); ++i) magnitude += std::fabs(double(a[i]) * b[i]);
  EXPECT_NEAR(simd().dot(a.data(), b.data(), 4099), scalar().dot(a.data(), b.data(), 4099), 1e-5 * magnitude);
}

// Rows as the KV cache stores them: floats, or IEEE halves (rounded to nearest even).
template <typename Element>
Element kv_element(float v) {
  if constexpr (std::is_same_v<Element, uint16_t>) return f32_to_f16(v);
  else return v;
}

// Attention of query heads sharing one KV head over cached positions: head widths with
// a register-resident fast path (32, 64, 96, 128) and others, position counts around the
// 16-position tiles, groups of 1 to 5 query heads (the fast path takes heads in tiles),
// keys strided like the KV cache (kv_dim wider than one head) and stored in chunks of 16
// positions with other layers' rows between chunks. Softmax weights from a vectorized
// exp: outputs within 1e-5 of the scalar kernel's, which runs one head at a time over a
// plain array of the same rows. Element: float (F32 cache) or uint16_t (F16).
template <typename Element>
void expect_attention_matches_scalar(const KernelTable& simd, const KernelTable& scalar) {
  constexpr KvType kType = std::is_same_v<Element, uint16_t> ? KvType::F16 : KvType::F32;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  constexpr int64_t kChunk = KvRows::kChunkRows;
  for (const int64_t n_heads : {1, 3, 5})
    for (const int64_t head_dim : {8, 32, 48, 64, 96, 128})
      for (const int64_t n_pos : {1, 2, 15, 16, 17, 33, 100, 300}) {
        SCOPED_TRACE(::testing::Message() << kv_type_name(kType) << " n_heads " << n_heads << " head_dim " << head_dim
                                          << " n_pos " << n_pos);
        const int64_t stride = 3 * head_dim;                    // three KV heads side by side
        const int64_t chunk_stride = 2 * kChunk * stride + 40;  // another layer's rows between chunks
        const int64_t n_chunks = (n_pos + kChunk - 1) / kChunk;
        std::vector<float> q(static_cast<size_t>(n_heads * head_dim));
        std::vector<Element> keys(static_cast<size_t>(n_pos * stride)), values(keys.size());
        for (auto& v : q) v = 2.0f * normal(rng);  // scores spread enough for the softmax to matter
        for (auto& v : keys) v = kv_element<Element>(normal(rng));
        for (auto& v : values) v = kv_element<Element>(normal(rng));
        // The same rows in chunks; the gaps hold NaN, which would show if they were read.
        std::vector<Element> chunked_keys(static_cast<size_t>(n_chunks * chunk_stride), kv_element<Element>(NAN)),
            chunked_values = chunked_keys;
        for (int64_t p = 0; p < n_pos; ++p) {
          const int64_t at = p / kChunk * chunk_stride + p % kChunk * stride;
          std::copy_n(keys.begin() + p * stride, stride, chunked_keys.begin() + at);
          std::copy_n(values.begin() + p * stride, stride, chunked_values.begin() + at);
        }
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        std::vector<float> scores_simd(static_cast<size_t>(n_heads * n_pos)), scores_scalar = scores_simd;
        std::vector<float> out_simd(q.size(), 99.0f), out_scalar = out_simd;
        const int64_t kv = head_dim;  // the middle KV head of each position
        simd.attention_heads(q.data(), n_heads, KvRows{chunked_keys.data() + kv, stride, chunk_stride, kType},
                             KvRows{chunked_values.data() + kv, stride, chunk_stride, kType}, n_pos, head_dim, scale,
                             scores_simd.data(), out_simd.data());
        const KvRows plain_keys{keys.data() + kv, stride, kChunk * stride, kType};
        const KvRows plain_values{values.data() + kv, stride, kChunk * stride, kType};
        for (int64_t h = 0; h < n_heads; ++h)
          scalar.attention_heads(q.data() + h * head_dim, 1, plain_keys, plain_values, n_pos, head_dim, scale,
                                 scores_scalar.data(), out_scalar.data() + h * head_dim);
        for (size_t i = 0; i < out_simd.size(); ++i)
          EXPECT_NEAR(out_simd[i], out_scalar[i], 1e-5f * (1.0f + std::fabs(out_scalar[i]))) << "i " << i;
        if (::testing::Test::HasFailure()) return;
      }
}

TEST_P(SimdKernels, AttentionHeadsMatchScalarWithinRounding) {
  expect_attention_matches_scalar<float>(simd(), scalar());
}

TEST_P(SimdKernels, AttentionOverHalfCacheMatchesScalarWithinRounding) {
  expect_attention_matches_scalar<uint16_t>(simd(), scalar());
}

// The F16 cache's stores: every SIMD conversion rounds like the scalar f32_to_f16
// (nearest, ties to even), bit for bit, over normal values, exact ties between two
// halves, subnormals, values past the half range, infinities and lengths around the
// vector widths.
TEST_P(SimdKernels, HalfConversionMatchesScalarBitForBit) {
  std::mt19937 rng(12);
  std::vector<float> x;
  for (int e = -30; e <= 17; ++e) {
    const float base = std::ldexp(1.0f, e);
    x.push_back(base);
    x.push_back(-base * 1.5f);
    x.push_back(base * (1.0f + 1.0f / 2048));  // a tie between two halves (for normal halves)
    x.push_back(base * (1.0f + 3.0f / 2048));  // the other tie direction
    x.push_back(base * (1.0f + 1.0f / 4096));
  }
  x.insert(x.end(), {0.0f, -0.0f, 65504.0f, 65520.0f, 70000.0f, -1e9f, INFINITY, -INFINITY, 5.96e-8f, 2.9e-8f, 1e-10f});
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int i = 0; i < 1000; ++i) x.push_back(normal(rng));
  for (const int64_t n :
       {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{16}, int64_t{17}, static_cast<int64_t>(x.size())}) {
    std::vector<uint16_t> fast(static_cast<size_t>(n) + 1, 0xabcd), reference = fast;
    simd().to_f16(x.data(), n, fast.data());
    scalar().to_f16(x.data(), n, reference.data());
    for (int64_t i = 0; i <= n; ++i) EXPECT_EQ(fast[i], reference[i]) << "n " << n << " x " << x[i] << " i " << i;
  }
}

// The Q8_0 head repacked in row groups (AVX-512's VPDPBUSD layout) against the scalar
// Q8_0 product: row counts around the 16-row groups, thread slices starting at a group
// boundary, token counts around the 8- and 4-token tiles; within the int8 activation
// rounding bound, and rows outside the slice untouched.
TEST(Q8RowGroups, MatchScalarQ8WithinRounding) {
  if (!isa_supported(Isa::Avx512, detect_cpu_features())) GTEST_SKIP() << "no AVX-512: no row-group kernel to test";
  const KernelTable& fast = kernel_table(Isa::Avx512);
  ASSERT_NE(fast.matmul_q8_groups, nullptr);
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t n_in : {32, 96, 576})
    for (const int64_t n_rows : {1, 17, 37})
      for (const int64_t n_tok : {1, 3, 4, 8, 9}) {
        std::vector<uint8_t> data;
        std::vector<float> row(static_cast<size_t>(n_in));
        for (int64_t r = 0; r < n_rows; ++r) {
          for (auto& v : row) v = normal(rng);
          quantize_row(TensorType::Q8_0, row, data);
        }
        const Q8RowGroups groups = Q8RowGroups::from_q8_0(data.data(), n_in, n_rows);
        const int64_t x_stride = n_in + 5;
        std::vector<float> x(static_cast<size_t>(n_tok * x_stride));
        for (auto& v : x) v = normal(rng);
        const int64_t r0 = n_rows > 16 ? 16 : 0;
        std::vector<float> want(static_cast<size_t>(n_tok * n_rows), kUntouched), got = want;
        kernel_table(Isa::Scalar)
            .matmul_dense(TensorType::Q8_0, data.data(), n_in, x.data(), x_stride, n_tok, r0, n_rows, want.data(),
                          n_rows);
        fast.matmul_q8_groups(groups, x.data(), x_stride, n_tok, r0, n_rows, got.data(), n_rows);
        expect_dense_rows_near(TensorType::Q8_0, data, n_in, n_rows, x, x_stride, n_tok, r0, want, got);
        if (HasFailure()) return;
      }
}

// SwiGLU gating: silu(g) * u from a vectorized exp, against std::exp, over lengths
// around the vector width (masked tails) and inputs from tiny to far past exp's range.
TEST_P(SimdKernels, SiluGateMatchesScalarWithinRounding) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> wide(-120.0f, 120.0f), narrow(-6.0f, 6.0f);
  for (const int64_t n : {1, 15, 16, 17, 40, 1536}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(gate.size());
    for (size_t i = 0; i < gate.size(); ++i) {
      gate[i] = i % 3 == 0 ? wide(rng) : narrow(rng);
      up[i] = narrow(rng);
    }
    gate[0] = 0.0f;
    std::vector<float> got = gate, want = gate;
    got.push_back(99.0f);  // a guard past the end
    simd().silu_gate(got.data(), up.data(), n);
    scalar().silu_gate(want.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(got[i], want[i], 1e-6f * (1.0f + std::fabs(want[i]))) << "n " << n << " gate " << gate[i];
    EXPECT_EQ(got.back(), 99.0f) << "wrote past n " << n;
  }
}

// ---------------------------------------------------------------- activation quantization

void expect_quantize_identical(const KernelTable& simd, const std::vector<float>& x, const std::string& what) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<int8_t> want(x.size() + 1, int8_t{77}), got = want;  // one guard byte past the end
  const float want_scale = scalar_kernels().quantize_row(x.data(), n, want.data());
  const float got_scale = simd.quantize_row(x.data(), n, got.data());
  EXPECT_EQ(got_scale, want_scale) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(int(got[i]), int(want[i])) << what << " byte " << i << (i == x.size() ? " (guard)" : "");
}

TEST_P(SimdKernels, QuantizeRowTiesRoundToEven) {
  // amax 127, so x * 127 / amax = x: the .5 values are exact ties.
  const std::vector<float> x = {127, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f};
  std::vector<int8_t> q(x.size());
  EXPECT_EQ(simd().quantize_row(x.data(), 6, q.data()), 1.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 0, 2, 2, 0, -2}));
  expect_quantize_identical(simd(), x, "ties");
}

TEST_P(SimdKernels, QuantizeRowMatchesScalarBytes) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_int_distribution<int> half_steps(-253, 253);
  for (int64_t n = 1; n <= 70; ++n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    expect_quantize_identical(simd(), x, "random n " + std::to_string(n));

    // Multiples of 0.5 up to 126.5 with one +-127 somewhere: ties everywhere, in the
    // vector body and in the tail.
    for (auto& v : x) v = 0.5f * static_cast<float>(half_steps(rng));
    x[static_cast<size_t>(rng() % n)] = (rng() & 1) ? 127.0f : -127.0f;
    expect_quantize_identical(simd(), x, "ties n " + std::to_string(n));

    std::fill(x.begin(), x.end(), 0.0f);
    expect_quantize_identical(simd(), x, "zeros n " + std::to_string(n));
  }
}

// The tables this architecture builds (kernel_table of another's is the scalar one).
#if defined(__aarch64__)
INSTANTIATE_TEST_SUITE_P(Isas, SimdKernels, ::testing::Values(Isa::Neon, Isa::Dotprod, Isa::I8mm),
#else
INSTANTIATE_TEST_SUITE_P(Isas, SimdKernels, ::testing::Values(Isa::Avx2, Isa::Avx512),
#endif
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace tern::testing
