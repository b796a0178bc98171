// Micro-benchmarks of the kernels per instruction set and shape (Google Benchmark):
// ternary GEMV/GEMM in weights/s and bytes/s, activation quantization, the dense LM
// head, and the machine's memory read bandwidth for reference.
//   ./build/tern_microbench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tern/bench.h"

namespace tern {
namespace {

const char* const kIsaNames[] = {"scalar", "avx2", "avx512"};  // the benchmarks' isa argument

// Times one prepared product; reports weights/s and bytes/s.
void time_product(benchmark::State& state, std::optional<KernelProduct> product, const std::string& label) {
  if (!product) {
    state.SkipWithError("instruction set not supported here");
    return;
  }
  for (auto _ : state) product->run();
  state.counters["weights/s"] = benchmark::Counter(product->weights(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(product->bytes(), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(label);
}

// Ternary products of `min_bytes` worth of copies of one random matrix (at least one),
// used in turn. args: isa, n_in, rows, tokens.
void run_ternary_benchmark(benchmark::State& state, size_t min_bytes) {
  const std::string isa = kIsaNames[state.range(0)];
  time_product(state, KernelProduct::ternary(isa, state.range(1), state.range(2), state.range(3), min_bytes), isa);
}

// One matrix, kept in cache by its repeated use.
void BM_Ternary(benchmark::State& state) { run_ternary_benchmark(state, 0); }

// The same product with the weights streamed from memory, as in a whole model: the
// matrix is one of enough copies (>= 128 MiB in all) that no cache holds them.
void BM_TernaryFromMemory(benchmark::State& state) { run_ternary_benchmark(state, size_t{128} << 20); }

void TernaryShapes(benchmark::internal::Benchmark* b) {
  // mobilellm-125m (576 / 1536), mobilellm-350m (960 / 2560), bitnet-700m (1536 / 4096).
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{576, 1536}, {1536, 576},  {960, 2560},
                                                           {2560, 960}, {1536, 4096}, {4096, 1536}};
  for (int isa : {0, 1, 2})
    for (auto [n_in, rows] : shapes)
      for (int tokens : {1, 4, 8, 16, 32}) {
        if (isa == 0 && tokens > 1) continue;
        b->Args({isa, n_in, rows, tokens});
      }
}
BENCHMARK(BM_Ternary)->Apply(TernaryShapes);
BENCHMARK(BM_TernaryFromMemory)->Apply(TernaryShapes);

// args: isa, type (0 F16, 1 Q8_0, 2 Q4_0), n_in, rows — the LM heads of the 125M and 350M
// shapes.
void BM_DenseHead(benchmark::State& state) {
  const char* kTypes[] = {"f16", "q8_0", "q4_0"};
  const std::string isa = kIsaNames[state.range(0)], type = kTypes[state.range(1)];
  time_product(state, KernelProduct::dense(isa, type, state.range(2), state.range(3)), isa + " " + type);
}
BENCHMARK(BM_DenseHead)
    ->Args({1, 0, 576, 32000})
    ->Args({1, 1, 576, 32000})
    ->Args({2, 0, 576, 32000})
    ->Args({2, 1, 576, 32000})
    ->Args({1, 2, 576, 32000})
    ->Args({1, 1, 960, 32000})
    ->Args({1, 2, 960, 32000});

// The Q8_0 LM head of the 125M shape in row groups (AVX-512 only), for 1 token
// (generation) and 8 (a batch step); args: tokens.
void BM_Q8GroupsHead(benchmark::State& state) {
  time_product(state, KernelProduct::q8_row_groups(576, 32000, state.range(0)), "avx512");
}
BENCHMARK(BM_Q8GroupsHead)->Arg(1)->Arg(8);

// Read bandwidth of this machine: each thread sums its own buffer of `arg` MB (bytes/s
// over all threads, wall time): 256 for memory, 45 / 107 / 204 for the bytes one token
// of the 125m / 350m / 700m shape reads, 16 for a buffer the L3 holds.
void BM_MemoryReadBandwidth(benchmark::State& state) {
  std::vector<int64_t> buffer(static_cast<size_t>(state.range(0)) * 1000000 / sizeof(int64_t), 1);
  for (auto _ : state) {
    int64_t sum = 0;
    for (int64_t v : buffer) sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(buffer.size() * sizeof(int64_t)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryReadBandwidth)
    ->ArgsProduct({{256, 45, 107, 204, 16}})
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
