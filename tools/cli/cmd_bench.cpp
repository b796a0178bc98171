// `tern bench`: prompt-processing and generation speed, like llama-bench, on a model
// file or on a named shape with random weights built in memory.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "bench/shapes.h"
#include "commands.h"
#include "common.h"
#include "kernels/cpu_features.h"
#include "tern/error.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::string shape;
  int n_prompt = 128;
  int n_gen = 128;
  std::vector<int> threads = {1, 2};
  int repetitions = 3;
  std::string ternary_type = "tern2";
  std::string embd_type = "q8_0";
  bool json = false;
  LogOptions log;
};

struct Stats {
  double mean = 0, sd = 0;
};

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(sq / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

using Clock = std::chrono::steady_clock;

// Tokens/s of processing a prompt of n tokens from an empty context.
double time_prompt(Context& ctx, int n, int32_t token) {
  const std::vector<int32_t> tokens(static_cast<size_t>(n), token);
  ctx.reset();
  const auto start = Clock::now();
  ctx.prefill(tokens);
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

// Tokens/s of generating n tokens one at a time (greedy, no sampling cost), as
// llama-bench's tg test.
double time_generation(Context& ctx, int n, int32_t token) {
  ctx.reset();
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto logits = ctx.decode(token);
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

struct Row {
  std::string test;
  int threads;
  Stats tokens_per_second;
};

int run_bench(const BenchOptions& o) {
  apply_log_options(o.log);
  if (o.model.empty() == o.shape.empty()) fail("give either -m MODEL or --shape NAME ({})", known_shape_names());
  if (o.n_prompt < 0 || o.n_gen < 0 || o.repetitions < 1) fail("-p and -n must be >= 0 and -r >= 1");
  std::optional<InMemoryFile> memory_model;
  std::string path = o.model, label = o.model;
  if (!o.shape.empty()) {
    const auto shape = find_shape(o.shape);
    if (!shape) fail("--shape '{}' is not one of {}", o.shape, known_shape_names());
    SyntheticOptions synthetic;
    const auto linear = tensor_type_from_name(o.ternary_type);
    const auto embd = tensor_type_from_name(o.embd_type);
    if (!linear) fail("--type '{}' is not a tensor type", o.ternary_type);
    if (!embd || traits(*embd).ternary) fail("--embd-type '{}' is not one of f32, f16, bf16, q8_0", o.embd_type);
    synthetic.linear_type = *linear;
    synthetic.embedding_type = *embd;
    fmt::print(stderr, "tern: building {} with random {} weights in memory ...\n", o.shape, o.ternary_type);
    memory_model.emplace(build_synthetic_model(*shape, synthetic));
    path = memory_model->path();
    label = o.shape;
  }
  std::vector<Row> rows;
  std::string isa;
  ModelSummary summary;
  for (int t : o.threads) {
    LoadOptions load;
    load.threads = t;
    const Model model = Model::load(path, load);
    isa = model.isa();
    summary = model.summary();
    Context ctx(model, std::max(o.n_prompt, o.n_gen) + 1);
    const int32_t token = model.tokenizer().bos();
    if (o.n_prompt > 0) {
      time_prompt(ctx, std::min(o.n_prompt, 32), token);  // warm-up: page in weights, wake threads
      std::vector<double> runs;
      for (int r = 0; r < o.repetitions; ++r) runs.push_back(time_prompt(ctx, o.n_prompt, token));
      rows.push_back({fmt::format("pp{}", o.n_prompt), model.threads(), stats_of(runs)});
    }
    if (o.n_gen > 0) {
      time_generation(ctx, std::min(o.n_gen, 8), token);
      std::vector<double> runs;
      for (int r = 0; r < o.repetitions; ++r) runs.push_back(time_generation(ctx, o.n_gen, token));
      rows.push_back({fmt::format("tg{}", o.n_gen), model.threads(), stats_of(runs)});
    }
  }
  uint64_t weights = 0;
  for (const auto& u : summary.by_type) weights += u.n_weights;
  const double bits_per_weight = 8.0 * static_cast<double>(summary.file_bytes) / static_cast<double>(weights);
  const std::string cpu = detect_cpu_features().name;
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows)
      out.push_back({{"model", label}, {"bytes", summary.file_bytes}, {"params", summary.effective_parameters},
                     {"bits_per_weight", bits_per_weight}, {"isa", isa}, {"cpu", cpu}, {"threads", r.threads},
                     {"test", r.test}, {"tokens_per_second", r.tokens_per_second.mean},
                     {"tokens_per_second_sd", r.tokens_per_second.sd}, {"repetitions", o.repetitions}});
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("| model | size | params | bits/w | isa | threads | test | t/s |\n");
  fmt::print("| --- | ---: | ---: | ---: | --- | ---: | --- | ---: |\n");
  for (const auto& r : rows)
    fmt::print("| {} | {:.1f} MiB | {:.1f} M | {:.2f} | {} | {} | {} | {:.1f} ± {:.1f} |\n", label,
               summary.file_bytes / 1048576.0, summary.effective_parameters / 1e6, bits_per_weight, isa, r.threads,
               r.test, r.tokens_per_second.mean, r.tokens_per_second.sd);
  fmt::print("\nCPU: {}\n", cpu);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* app = parent.add_subcommand("bench", "Measure prompt and generation tokens/s");
  auto* model = app->add_option("-m,--model", o->model, "Model file (GGUF)");
  app->add_option("--shape", o->shape, "Random weights of a named shape: " + known_shape_names())->excludes(model);
  app->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (0: skip the prompt test)");
  app->add_option("-n,--n-gen", o->n_gen, "Generated tokens (0: skip the generation test)");
  app->add_option("-t,--threads", o->threads, "Thread counts to run, e.g. -t 1,2")->delimiter(',')->check(CLI::Range(1, 1024));
  app->add_option("-r,--repetitions", o->repetitions, "Repetitions per test");
  app->add_option("--type", o->ternary_type, "With --shape: linear weight type (tern2, tq2_0, tq1_0, f16, q8_0)");
  app->add_option("--embd-type", o->embd_type, "With --shape: embedding / LM head type (q8_0, f16, f32)");
  app->add_flag("--json", o->json, "Print JSON instead of a table");
  add_log_options(*app, o->log);
  return {app, [o] { return run_bench(*o); }};
}

}  // namespace tern::cli
