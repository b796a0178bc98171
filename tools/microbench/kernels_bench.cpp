// Micro-benchmarks of the kernels per instruction set and shape (Google Benchmark):
// ternary GEMV/GEMM in weights/s and bytes/s, activation quantization, the dense LM
// head, and the machine's memory read bandwidth for reference.
//   ./build/tern_microbench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace tern {
namespace {

TernaryMatrix random_matrix(int64_t n_in, int64_t rows, TernaryLayout layout) {
  std::mt19937 rng(7);
  TernaryWeights w;
  w.n_in = n_in;
  w.n_rows = rows;
  w.group = n_in;
  w.weights.resize(static_cast<size_t>(n_in * rows));
  for (auto& x : w.weights) x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  w.scales.assign(static_cast<size_t>(rows), 0.01f);
  return TernaryMatrix::from_weights(w, layout);
}

struct Activations {
  AlignedBuffer<int8_t> q, prepared;
  std::vector<float> scale;
  PreparedActivations view;
};

Activations random_activations(const KernelTable& k, int64_t n_in, int64_t n_tok) {
  std::mt19937 rng(3);
  Activations a;
  const int64_t n_in_padded = padded_to_chunks(n_in), stride = k.prepared_bytes(n_in);
  a.q.assign(static_cast<size_t>(n_in_padded * n_tok));
  a.prepared.assign(static_cast<size_t>(stride * n_tok));
  a.scale.assign(static_cast<size_t>(n_tok), 0.02f);
  for (size_t i = 0; i < a.q.size(); ++i) a.q[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  for (int64_t t = 0; t < n_tok; ++t)
    k.prepare_ternary(a.q.data() + t * n_in_padded, n_in, a.prepared.data() + t * stride);
  a.view = {a.prepared.data(), a.scale.data(), stride, n_tok};
  return a;
}

// Ternary products of `min_bytes` worth of copies of one random matrix (at least one),
// used in turn. args: isa, n_in, rows, tokens.
void run_ternary_benchmark(benchmark::State& state, size_t min_bytes) {
  const auto isa = static_cast<Isa>(state.range(0));
  if (!isa_supported(isa, detect_cpu_features())) {
    state.SkipWithError("instruction set not supported here");
    return;
  }
  const KernelTable& k = kernel_table(isa);
  std::vector<TernaryMatrix> copies(1, random_matrix(state.range(1), state.range(2), k.layout));
  while (copies.size() * copies[0].codes.size() < min_bytes) copies.push_back(copies[0]);
  Activations a = random_activations(k, copies[0].n_in, state.range(3));
  std::vector<float> y(static_cast<size_t>(copies[0].n_rows * state.range(3)));
  size_t next = 0;
  for (auto _ : state) {
    const TernaryMatrix& w = copies[next];
    next = (next + 1) % copies.size();
    k.matmul_ternary(w, a.view, 0, w.n_rows, y.data(), w.n_rows);
    benchmark::DoNotOptimize(y.data());
  }
  const double weights = static_cast<double>(copies[0].n_in * copies[0].n_rows);
  state.counters["weights/s"] = benchmark::Counter(weights * state.range(3), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(copies[0].codes.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(isa_name(isa)));
}

// One matrix, kept in cache by its repeated use.
void BM_Ternary(benchmark::State& state) { run_ternary_benchmark(state, 0); }

// The same product with the weights streamed from memory, as in a whole model: the
// matrix is one of enough copies (>= 128 MiB in all) that no cache holds them.
void BM_TernaryFromMemory(benchmark::State& state) { run_ternary_benchmark(state, size_t{128} << 20); }

void TernaryShapes(benchmark::internal::Benchmark* b) {
  // mobilellm-125m (576 / 1536), mobilellm-350m (960 / 2560), bitnet-700m (1536 / 4096).
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{576, 1536}, {1536, 576}, {960, 2560}, {2560, 960}, {1536, 4096}, {4096, 1536}};
  for (int isa : {0, 1, 2})
    for (auto [n_in, rows] : shapes)
      for (int tokens : {1, 4, 8, 16}) {
        if (isa == 0 && tokens > 1) continue;
        b->Args({isa, n_in, rows, tokens});
      }
}
BENCHMARK(BM_Ternary)->Apply(TernaryShapes);
BENCHMARK(BM_TernaryFromMemory)->Apply(TernaryShapes);

// args: isa, type (0 F16, 1 Q8_0), n_in, rows — the LM head of the 125M shape.
void BM_DenseHead(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  if (!isa_supported(isa, detect_cpu_features())) {
    state.SkipWithError("instruction set not supported here");
    return;
  }
  const KernelTable& k = kernel_table(isa);
  const TensorType type = state.range(1) == 0 ? TensorType::F16 : TensorType::Q8_0;
  const int64_t n_in = state.range(2), rows = state.range(3);
  std::vector<uint8_t> data(row_bytes(type, n_in) * rows, 0);
  std::vector<float> x(static_cast<size_t>(n_in), 0.5f), y(static_cast<size_t>(rows));
  for (auto _ : state) {
    k.matmul_dense(type, data.data(), n_in, x.data(), n_in, 1, 0, rows, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(data.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(isa_name(isa)) + (type == TensorType::F16 ? " f16" : " q8_0"));
}
BENCHMARK(BM_DenseHead)->Args({1, 0, 576, 32000})->Args({1, 1, 576, 32000})->Args({2, 0, 576, 32000})->Args({2, 1, 576, 32000});

// The Q8_0 LM head of the 125M shape in row groups (AVX-512 only), for 1 token
// (generation) and 8 (a batch step); args: tokens.
void BM_Q8GroupsHead(benchmark::State& state) {
  const KernelTable& k = kernel_table(Isa::Avx512);
  if (!isa_supported(Isa::Avx512, detect_cpu_features()) || k.matmul_q8_groups == nullptr) {
    state.SkipWithError("no row-group kernel here");
    return;
  }
  const int64_t n_in = 576, rows = 32000, tokens = state.range(0);
  std::vector<uint8_t> data(row_bytes(TensorType::Q8_0, n_in) * rows);
  std::mt19937 rng(5);
  for (auto& b : data) b = static_cast<uint8_t>(rng() & 0x3f);  // small scales, any weights
  const Q8RowGroups w = Q8RowGroups::from_q8_0(data.data(), n_in, rows);
  std::vector<float> x(static_cast<size_t>(n_in * tokens), 0.5f), y(static_cast<size_t>(rows * tokens));
  for (auto _ : state) {
    k.matmul_q8_groups(w, x.data(), n_in, tokens, 0, rows, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(n_in * rows * tokens), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Q8GroupsHead)->Arg(1)->Arg(8);

// Read bandwidth of this machine: sum a 256 MiB buffer.
void BM_MemoryReadBandwidth(benchmark::State& state) {
  std::vector<int64_t> buffer((256u << 20) / sizeof(int64_t), 1);
  for (auto _ : state) {
    int64_t sum = 0;
    for (int64_t v : buffer) sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(buffer.size() * sizeof(int64_t)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryReadBandwidth)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
