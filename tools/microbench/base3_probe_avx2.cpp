// Why the AVX2 kernels keep 2-bit codes: a probe of the smallest byte-aligned ternary
// layout, five weights per byte in base 3 (1.6 bits per weight, TQ1_0's packing), against
// the 2-bit codes of the OffsetCodes layout, both as one-token products (generation).
// Fewer bytes only help if decoding them costs less than the memory time they save.
//
// Five-trit bytes: the digits d_k = w_k + 1 of five weights form v = sum d_k 3^(4-k)
// (0..242), stored as q = ceil(v * 256 / 243), so that digit k is the integer part of
// 3 * ((q * 3^k) mod 256) / 256. Stored as s = q - 128 (signed), the byte to multiply by 3
// for the next digit is again s (3 (s + 128) - 128 = 3s mod 256), and the digit is the
// number of thresholds s passes: (s > -43) + (s > 42). Two signed compares give the
// digit negated, -(w + 1), which VPMADDUBSW multiplies with the activations + 128 as
// unsigned bytes; the offsets come out of per-row and per-token sums. Per 32 bytes
// (160 weights) and row: 2 adds for each of four digit steps, 2 compares, an add, a
// VPMADDUBSW and an accumulate per digit (33 instructions, 0.21 per weight), against 15
// per 128 weights (0.12) for the 2-bit codes' shift, mask, VPMADDUBSW and add.
//
//   ./build/tern_base3_probe          (built on x86-64 with -mavx2: AVX2 CPUs only)
// Reports weights/s and code bytes/s; BM_*/1 reads a 1 MB matrix (L2), BM_*/0 a 26.5 MB
// matrix of 2-bit codes (the 125m shape's ternary weights) or its 21.2 MB in base 3,
// cycled through enough copies (>= 128 MiB) that memory serves it.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace tern {
namespace {

constexpr int64_t kInputs = 1920;  // a multiple of both steps: 128 (2-bit) and 160 (base 3)
constexpr int kRows = 4;           // rows per tile, as the AVX2 GEMV

struct ProbeMatrix {
  int64_t rows = 0;
  std::vector<int8_t> weights;      // [rows, kInputs] in {-1, 0, 1}
  std::vector<int32_t> digit_sums;  // [rows] sum of w + 1 (base-3 offset)
  std::vector<uint8_t> two_bit;     // [copies, rows, kInputs / 4]
  std::vector<uint8_t> base3;       // [copies, rows, kInputs / 5], stored as q - 128
  int64_t copies_two_bit = 1, copies_base3 = 1;
};

// 2-bit codes: per 128 weights, byte j holds w + 1 of weights j + 32p in bits 2p, 2p + 1.
void pack_two_bit(const int8_t* w, uint8_t* out) {
  for (int64_t s = 0; s < kInputs / 128; ++s)
    for (int j = 0; j < 32; ++j) {
      int byte = 0;
      for (int p = 0; p < 4; ++p) byte |= (w[s * 128 + j + 32 * p] + 1) << (2 * p);
      out[s * 32 + j] = static_cast<uint8_t>(byte);
    }
}

// Base 3: per 160 weights, byte j holds weights j + 32k, k = 0..4, as described above.
void pack_base3(const int8_t* w, uint8_t* out) {
  for (int64_t s = 0; s < kInputs / 160; ++s)
    for (int j = 0; j < 32; ++j) {
      int v = 0;
      for (int k = 0; k < 5; ++k) v = 3 * v + (w[s * 160 + j + 32 * k] + 1);
      const int q = (v * 256 + 242) / 243;
      out[s * 32 + j] = static_cast<uint8_t>(q ^ 0x80);
    }
}

ProbeMatrix make_matrix(int64_t rows, bool from_memory) {
  ProbeMatrix m;
  m.rows = rows;
  std::mt19937 rng(7);
  m.weights.resize(static_cast<size_t>(rows * kInputs));
  for (auto& w : m.weights) w = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  m.digit_sums.assign(static_cast<size_t>(rows), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < kInputs; ++i) m.digit_sums[r] += m.weights[r * kInputs + i] + 1;
  const int64_t bytes2 = rows * kInputs / 4, bytes3 = rows * kInputs / 5;
  if (from_memory) {
    m.copies_two_bit = std::max<int64_t>(1, (int64_t{128} << 20) / bytes2 + 1);
    m.copies_base3 = std::max<int64_t>(1, (int64_t{128} << 20) / bytes3 + 1);
  }
  m.two_bit.assign(static_cast<size_t>(m.copies_two_bit * bytes2), 0);
  m.base3.assign(static_cast<size_t>(m.copies_base3 * bytes3), 0);
  for (int64_t r = 0; r < rows; ++r) {
    pack_two_bit(&m.weights[r * kInputs], m.two_bit.data() + r * kInputs / 4);
    pack_base3(&m.weights[r * kInputs], m.base3.data() + r * kInputs / 5);
  }
  for (int64_t c = 1; c < m.copies_two_bit; ++c)
    std::memcpy(m.two_bit.data() + c * bytes2, m.two_bit.data(), static_cast<size_t>(bytes2));
  for (int64_t c = 1; c < m.copies_base3; ++c)
    std::memcpy(m.base3.data() + c * bytes3, m.base3.data(), static_cast<size_t>(bytes3));
  return m;
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s);
}

// y[r] = sum (w + 1) a over row r (2-bit codes; activations in natural order).
void gemv_two_bit(const uint8_t* codes, int64_t rows, const int8_t* act, int32_t* y) {
  constexpr int64_t kRowBytes = kInputs / 4;
  const __m256i three = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  for (int64_t r = 0; r < rows; r += kRows) {
    __m256i acc[kRows];
    for (auto& a : acc) a = _mm256_setzero_si256();
    for (int64_t s = 0; s < kRowBytes; s += 32) {
      __m256i a[4];
      for (int p = 0; p < 4; ++p) a[p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act + 4 * s + 32 * p));
      for (int i = 0; i < kRows; ++i) {
        const uint8_t* row = codes + (r + i) * kRowBytes + s;
        _mm_prefetch(reinterpret_cast<const char*>(row + 4096), _MM_HINT_T0);
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
        __m256i t = _mm256_maddubs_epi16(_mm256_and_si256(c, three), a[0]);
        t = _mm256_add_epi16(t, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 2), three), a[1]));
        t = _mm256_add_epi16(t, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 4), three), a[2]));
        t = _mm256_add_epi16(t, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 6), three), a[3]));
        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(t, ones));
      }
    }
    for (int i = 0; i < kRows; ++i) y[r + i] = hsum_epi32(acc[i]);
  }
}

// y[r] = sum (a + 128) * -(w + 1) over row r (base-3 bytes; activations + 128).
void gemv_base3(const uint8_t* codes, int64_t rows, const uint8_t* act_u, int32_t* y) {
  constexpr int64_t kRowBytes = kInputs / 5;
  const __m256i one_up = _mm256_set1_epi8(-43), two_up = _mm256_set1_epi8(42), ones = _mm256_set1_epi16(1);
  for (int64_t r = 0; r < rows; r += kRows) {
    __m256i acc[kRows];
    for (auto& a : acc) a = _mm256_setzero_si256();
    for (int64_t s = 0; s < kRowBytes; s += 32) {
      __m256i a[5];
      for (int k = 0; k < 5; ++k) a[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act_u + 5 * s + 32 * k));
      for (int i = 0; i < kRows; ++i) {
        const uint8_t* row = codes + (r + i) * kRowBytes + s;
        _mm_prefetch(reinterpret_cast<const char*>(row + 4096), _MM_HINT_T0);
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
        __m256i t = _mm256_setzero_si256();
        for (int k = 0; k < 5; ++k) {
          if (k > 0) v = _mm256_add_epi8(_mm256_add_epi8(v, v), v);
          const __m256i negated_digit = _mm256_add_epi8(_mm256_cmpgt_epi8(v, one_up), _mm256_cmpgt_epi8(v, two_up));
          t = _mm256_add_epi16(t, _mm256_maddubs_epi16(a[k], negated_digit));
        }
        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(t, ones));
      }
    }
    for (int i = 0; i < kRows; ++i) y[r + i] = hsum_epi32(acc[i]);
  }
}

struct Activations {
  std::vector<int8_t> q = std::vector<int8_t>(kInputs);
  std::vector<uint8_t> offset = std::vector<uint8_t>(kInputs);  // q + 128
  int32_t sum = 0;
};

Activations make_activations() {
  Activations a;
  std::mt19937 rng(11);
  for (int64_t i = 0; i < kInputs; ++i) {
    a.q[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    a.offset[i] = static_cast<uint8_t>(a.q[i] + 128);
    a.sum += a.q[i];
  }
  return a;
}

// Both kernels must give the plain integer dot products, or their timings mean nothing.
void check_exact(const ProbeMatrix& m, const Activations& a) {
  std::vector<int32_t> two(static_cast<size_t>(m.rows)), three(static_cast<size_t>(m.rows));
  gemv_two_bit(m.two_bit.data(), m.rows, a.q.data(), two.data());
  gemv_base3(m.base3.data(), m.rows, a.offset.data(), three.data());
  for (int64_t r = 0; r < m.rows; ++r) {
    int32_t dot = 0;
    for (int64_t i = 0; i < kInputs; ++i) dot += m.weights[r * kInputs + i] * a.q[i];
    const int32_t from_two = two[r] - a.sum, from_three = -three[r] - a.sum - 128 * m.digit_sums[r];
    if (from_two != dot || from_three != dot) {
      std::fprintf(stderr, "base3 probe: row %ld: dot %d, 2-bit %d, base 3 %d\n", static_cast<long>(r), dot, from_two,
                   from_three);
      std::abort();
    }
  }
}

// args: 1 = a 1 MB matrix (L2), 0 = the 125m shape's ternary weights from memory.
int64_t rows_for(int64_t arg) { return arg == 1 ? 2048 : 55296; }

template <bool kBase3>
void BM_Gemv(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2")) {
    state.SkipWithError("no AVX2");
    return;
  }
  const ProbeMatrix m = make_matrix(rows_for(state.range(0)), state.range(0) == 0);
  const Activations a = make_activations();
  check_exact(m, a);
  std::vector<int32_t> y(static_cast<size_t>(m.rows));
  const int64_t bytes = m.rows * kInputs / (kBase3 ? 5 : 4);
  const int64_t copies = kBase3 ? m.copies_base3 : m.copies_two_bit;
  int64_t copy = 0;
  for (auto _ : state) {
    if (kBase3) gemv_base3(m.base3.data() + copy * bytes, m.rows, a.offset.data(), y.data());
    else gemv_two_bit(m.two_bit.data() + copy * bytes, m.rows, a.q.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    copy = (copy + 1) % copies;
  }
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(m.rows * kInputs), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] =
      benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TwoBitCodes(benchmark::State& state) { BM_Gemv<false>(state); }
void BM_Base3Bytes(benchmark::State& state) { BM_Gemv<true>(state); }
// A fixed iteration count: each run builds its matrix once (the memory case 128 MiB).
BENCHMARK(BM_TwoBitCodes)->Arg(1)->Arg(0)->Iterations(200)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Base3Bytes)->Arg(1)->Arg(0)->Iterations(200)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
