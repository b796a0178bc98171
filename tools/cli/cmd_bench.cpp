// `tern bench`: prompt-processing and generation speed and energy, like llama-bench, on
// a model file or on a named shape with random weights built in memory; optionally side
// by side with the same shape in full precision (--compare).
#include <fmt/format.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <optional>
#include <thread>

#include "commands.h"
#include "common.h"
#include "tern/bench.h"
#include "tern/energy.h"
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
  std::vector<int> batch;  // --batch: aggregate generation of B sequences decoded together
  int repetitions = 3;
  KvType kv_type = KvType::F32;
  std::string ternary_type = "tern2";
  std::string embd_type = "q8_0";
  std::string compare;        // "", "f16" or "q8_0"
  std::string output = "md";  // md, json, jsonl, csv
  bool json = false;          // --json: same as --output json
  double watts = 0;           // user-given power for an estimate when no counters exist
  double idle_seconds = 0;    // --idle-baseline
  std::string powercap_root;
  std::string save;  // with --shape: also write the random model to this file
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

// Energy of one test, in whatever form this machine allows.
struct Energy {
  std::string source = "none";  // "rapl", "estimated", "none"
  double joules = -1, watts = -1, joules_above_idle = -1;
  double cpu_seconds_per_token = 0;
  bool counter_moved = true;  // false: RAPL read the same value before and after (suspect)
};

struct Row {
  std::string model, linear_type, isa, test;
  uint64_t bytes = 0, params = 0, rss = 0;  // rss: peak resident set size while loading and running
  double bits_per_weight = 0;
  int threads = 0;
  int tokens = 0;
  int batch = 0;  // batch rows: sequences decoded together (0: the pp / tg rows)
  Stats tokens_per_second;
  Energy energy;
};

// What a test runs once: returns tokens/s.
double time_prompt(Context& ctx, int n, int32_t token) {
  const std::vector<int32_t> tokens(static_cast<size_t>(n), token);
  ctx.reset();
  const auto start = Clock::now();
  ctx.prefill(tokens);
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

// Generation as llama-bench's tg test: one token at a time, greedy, no sampling cost.
double time_generation(Context& ctx, int n, int32_t token) {
  ctx.reset();
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto logits = ctx.decode(token);
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

class EnergyProbe {
 public:
  explicit EnergyProbe(const BenchOptions& o) : meter_(EnergyMeter::discover(o.powercap_root)), watts_(o.watts) {
    // RAPL through powercap first; where that is unreadable, the perf "power" PMU.
    if (!meter_.available()) perf_ = PerfEnergyCounter::open();
    if (!meter_.available() && !perf_.available())
      fmt::print(stderr, "tern: no energy counters: {}; {}; reporting CPU-seconds per token{}\n",
                 meter_.unavailable_reason(), perf_.unavailable_reason(),
                 watts_ > 0 ? fmt::format(" and energy ESTIMATED from --watts {}", watts_) : "");
    if ((meter_.available() || perf_.available()) && o.idle_seconds > 0) {
      fmt::print(stderr, "tern: measuring idle power for {} s ...\n", o.idle_seconds);
      const auto idle = std::chrono::duration<double>(o.idle_seconds);
      if (meter_.available()) {
        const auto before = meter_.read();
        std::this_thread::sleep_for(idle);
        idle_watts_ = meter_.between(before, meter_.read()).watts();
      } else {
        const double before = perf_.joules();
        std::this_thread::sleep_for(idle);
        idle_watts_ = (perf_.joules() - before) / o.idle_seconds;
      }
    }
  }

  // Runs `work` and returns its energy figures; `tokens` is the number it produced.
  template <typename Work>
  Energy measure(int tokens, Work&& work) {
    Energy e;
    const double cpu_before = cpu_seconds();
    const auto wall_before = Clock::now();
    std::optional<EnergyReading> before;
    if (meter_.available()) before = meter_.read();
    const double perf_before = perf_.available() ? perf_.joules() : 0;
    work();
    const double seconds = std::chrono::duration<double>(Clock::now() - wall_before).count();
    e.cpu_seconds_per_token = (cpu_seconds() - cpu_before) / tokens;
    if (!before && perf_.available()) {
      e.source = "perf";
      e.joules = perf_.joules() - perf_before;
      e.watts = e.joules / seconds;
      e.counter_moved = e.joules > 0;
      if (idle_watts_ >= 0) e.joules_above_idle = e.joules - idle_watts_ * seconds;
    } else if (before) {
      const EnergySample sample = meter_.between(*before, meter_.read());
      e.source = "rapl";
      e.counter_moved = sample.moved;
      e.joules = sample.joules_package;
      e.watts = sample.watts();
      if (idle_watts_ >= 0) e.joules_above_idle = e.joules - idle_watts_ * sample.seconds;
    } else if (watts_ > 0) {
      e.source = "estimated";
      e.joules = watts_ * seconds;
      e.watts = watts_;
    }
    return e;
  }

 private:
  EnergyMeter meter_;
  PerfEnergyCounter perf_;
  double watts_;
  double idle_watts_ = -1;
};

struct Subject {
  std::string label, linear_type, path;
  std::optional<InMemoryFile> memory;
};

Subject make_subject(const BenchOptions& o, const std::string& linear_type) {
  Subject s;
  if (!o.model.empty()) {
    s.label = o.model;
    s.path = o.model;
    s.linear_type = "file";
    return s;
  }
  const auto shape = find_shape(o.shape);
  if (!shape) fail("--shape '{}' is not one of {}", o.shape, known_shape_names());
  SyntheticOptions synthetic;
  synthetic.linear_type = linear_type;
  synthetic.embedding_type = o.embd_type;
  synthetic.validate();
  fmt::print(stderr, "tern: building {} with random {} weights in memory ...\n", o.shape, linear_type);
  s.memory.emplace(build_synthetic_model(*shape, synthetic));
  s.path = s.memory->path();
  if (!o.save.empty() && linear_type == o.ternary_type) {
    std::filesystem::copy_file(s.path, o.save, std::filesystem::copy_options::overwrite_existing);
    fmt::print(stderr, "tern: wrote {}\n", o.save);
  }
  s.label = o.shape;
  s.linear_type = linear_type;
  return s;
}

// Prompt of each sequence in the batch test (prefilled, not timed).
constexpr int kBatchPromptTokens = 16;

void run_subject(const BenchOptions& o, const Subject& subject, EnergyProbe& probe, std::vector<Row>& rows) {
  for (int t : o.threads) {
    reset_peak_rss();  // the peak of this model alone, not of building the random one
    LoadOptions load;
    load.threads = t;
    const Model model = Model::load(subject.path, load);
    const ModelSummary summary = model.summary();
    uint64_t weights = 0;
    for (const auto& u : summary.by_type) weights += u.n_weights;
    Context ctx(model, std::max(o.n_prompt, o.n_gen) + 1, Context::kDefaultBatch, o.kv_type);
    const int32_t token = model.tokenizer().bos();
    auto add_row = [&](const std::string& test, int tokens, int batch, auto&& once) {
      once(std::min(tokens, 16));  // warm-up: page in weights, wake threads
      std::vector<double> runs;
      const Energy energy = probe.measure(tokens * o.repetitions, [&] {
        for (int r = 0; r < o.repetitions; ++r) runs.push_back(once(tokens));
      });
      Row row;
      row.model = subject.label;
      row.linear_type = subject.linear_type;
      row.isa = model.isa();
      row.test = test;
      row.bytes = summary.file_bytes;
      row.params = summary.effective_parameters;
      row.bits_per_weight = 8.0 * static_cast<double>(summary.file_bytes) / static_cast<double>(weights);
      row.threads = model.threads();
      row.tokens = tokens;
      row.batch = batch;
      row.tokens_per_second = stats_of(runs);
      row.rss = peak_rss_bytes();
      row.energy = energy;
      rows.push_back(row);
    };
    if (o.n_prompt > 0)
      add_row(fmt::format("pp{}", o.n_prompt), o.n_prompt, 0, [&](int n) { return time_prompt(ctx, n, token); });
    if (o.n_gen > 0)
      add_row(fmt::format("tg{}", o.n_gen), o.n_gen, 0, [&](int n) { return time_generation(ctx, n, token); });
    for (int b : o.batch) {
      BatchDecodeBench batch(model, b, kBatchPromptTokens, o.n_gen, o.kv_type);
      add_row(fmt::format("tg{} x B{}", o.n_gen, b), o.n_gen * b, b,
              [&](int n) { return batch.tokens_per_second(std::max(1, n / b)); });
    }
  }
}

// A batch row's aggregate speed over the B = 1 row of the same model and threads (the
// batch target is stated that way), or nothing when there is no such row.
std::optional<double> speedup_over_one_sequence(const Row& r, const std::vector<Row>& rows) {
  if (r.batch <= 1) return std::nullopt;
  for (const Row& one : rows)
    if (one.batch == 1 && one.model == r.model && one.linear_type == r.linear_type && one.threads == r.threads)
      return r.tokens_per_second.mean / one.tokens_per_second.mean;
  return std::nullopt;
}

nlohmann::json row_json(const Row& r, const std::vector<Row>& rows, const std::string& cpu, int repetitions,
                        KvType kv_type) {
  nlohmann::json j = {{"model", r.model},
                      {"weights", r.linear_type},
                      {"bytes", r.bytes},
                      {"params", r.params},
                      {"bits_per_weight", r.bits_per_weight},
                      {"isa", r.isa},
                      {"cpu", cpu},
                      {"commit", TERN_GIT_COMMIT},
                      {"kv_type", kv_type_name(kv_type)},
                      {"threads", r.threads},
                      {"test", r.test},
                      {"tokens_per_second", r.tokens_per_second.mean},
                      {"tokens_per_second_sd", r.tokens_per_second.sd},
                      {"peak_rss_bytes", r.rss},
                      {"cpu_seconds_per_token", r.energy.cpu_seconds_per_token},
                      {"energy_source", r.energy.source}};
  if (r.batch > 0) j["batch"] = r.batch;
  if (const auto speedup = speedup_over_one_sequence(r, rows)) j["speedup_vs_b1"] = *speedup;
  if (r.energy.joules >= 0) {
    j["joules"] = r.energy.joules;
    j["watts"] = r.energy.watts;
    j["estimated"] = r.energy.source == "estimated";
    j["joules_per_token"] = r.energy.joules / (r.tokens * repetitions);
    if (r.energy.joules > 0) j["tokens_per_joule"] = (r.tokens * repetitions) / r.energy.joules;
    if (r.energy.joules_above_idle >= 0) j["joules_above_idle"] = r.energy.joules_above_idle;
    if (!r.energy.counter_moved) j["counter_moved"] = false;
  }
  return j;
}

std::string energy_cell(const Row& r, int repetitions) {
  if (r.energy.joules < 0) return fmt::format("{:.4f} cpu-s/t", r.energy.cpu_seconds_per_token);
  if (!r.energy.counter_moved) return "energy counter did not move";
  const double per_token = r.energy.joules / (r.tokens * repetitions);
  return fmt::format("{:.4f} J/t, {:.1f} t/J, {:.1f} W{}", per_token, 1.0 / per_token, r.energy.watts,
                     r.energy.source == "estimated" ? " (estimated)" : "");
}

void print_rows(const BenchOptions& o, const std::vector<Row>& rows) {
  const std::string cpu = cpu_name();
  const std::string format = o.json ? "json" : o.output;
  if (format == "json" || format == "jsonl") {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& r : rows) {
      const nlohmann::json j = row_json(r, rows, cpu, o.repetitions, o.kv_type);
      if (format == "jsonl") fmt::print("{}\n", j.dump());
      else all.push_back(j);
    }
    if (format == "json") fmt::print("{}\n", all.dump(2));
    return;
  }
  if (format == "csv") {
    fmt::print(
        "model,weights,bytes,params,bits_per_weight,isa,cpu,commit,threads,test,tokens_per_second,sd,peak_rss_bytes,"
        "cpu_seconds_per_token,energy_source,joules_per_token,kv_type,speedup_vs_b1\n");
    for (const auto& r : rows) {
      const auto speedup = speedup_over_one_sequence(r, rows);
      fmt::print("{},{},{},{},{:.4f},{},\"{}\",{},{},{},{:.2f},{:.2f},{},{:.6f},{},{},{},{}\n", r.model, r.linear_type,
                 r.bytes, r.params, r.bits_per_weight, r.isa, cpu, TERN_GIT_COMMIT, r.threads, r.test,
                 r.tokens_per_second.mean, r.tokens_per_second.sd, r.rss, r.energy.cpu_seconds_per_token,
                 r.energy.source,
                 r.energy.joules >= 0 ? fmt::format("{:.6f}", r.energy.joules / (r.tokens * o.repetitions)) : "",
                 kv_type_name(o.kv_type), speedup ? fmt::format("{:.3f}", *speedup) : "");
    }
    return;
  }
  fmt::print("| model | weights | size | params | bits/w | isa | threads | test | t/s | peak RSS | energy |\n");
  fmt::print("| --- | --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | --- |\n");
  for (const auto& r : rows) {
    const auto speedup = speedup_over_one_sequence(r, rows);
    fmt::print("| {} | {} | {:.1f} MiB | {:.1f} M | {:.2f} | {} | {} | {} | {:.1f} ± {:.1f}{} | {:.1f} MiB | {} |\n",
               r.model, r.linear_type, r.bytes / 1048576.0, r.params / 1e6, r.bits_per_weight, r.isa, r.threads, r.test,
               r.tokens_per_second.mean, r.tokens_per_second.sd, speedup ? fmt::format(" ({:.2f}x B1)", *speedup) : "",
               r.rss / 1048576.0, energy_cell(r, o.repetitions));
  }
  fmt::print("\nCPU: {}, commit {}, KV cache {}\n", cpu, TERN_GIT_COMMIT, kv_type_name(o.kv_type));
}

// "ternary vs multiplication": speed, memory and energy ratios per test and thread count.
void print_comparison(const BenchOptions& o, const std::vector<Row>& rows) {
  if (o.compare.empty() || (o.json || o.output != "md")) return;
  fmt::print("\n| test | threads | speed ternary / {} | size {} / ternary | energy per token {} / ternary |\n",
             o.compare, o.compare, o.compare);
  fmt::print("| --- | ---: | ---: | ---: | ---: |\n");
  for (const auto& t : rows) {
    if (t.linear_type == o.compare) continue;
    for (const auto& b : rows) {
      if (b.linear_type != o.compare || b.test != t.test || b.threads != t.threads) continue;
      const double energy_ratio = (b.energy.joules >= 0 && t.energy.joules > 0)
                                      ? (b.energy.joules / b.tokens) / (t.energy.joules / t.tokens)
                                      : b.energy.cpu_seconds_per_token / t.energy.cpu_seconds_per_token;
      fmt::print("| {} | {} | {:.2f}x | {:.2f}x | {:.2f}x{} |\n", t.test, t.threads,
                 t.tokens_per_second.mean / b.tokens_per_second.mean, static_cast<double>(b.bytes) / t.bytes,
                 energy_ratio, b.energy.joules >= 0 ? "" : " (cpu-seconds)");
    }
  }
}

int run_bench(BenchOptions o) {
  apply_log_options(o.log);
  if (o.model.empty() == o.shape.empty()) fail("give either -m MODEL or --shape NAME ({})", known_shape_names());
  if (o.n_prompt < 0 || o.n_gen < 0 || o.repetitions < 1) fail("-p and -n must be >= 0 and -r >= 1");
  if (!o.compare.empty() && o.shape.empty())
    fail("--compare needs --shape (it builds the same shape in {})", o.compare);
  if (o.watts < 0 || o.idle_seconds < 0) fail("--watts and --idle-baseline must be >= 0");
  if (!o.shape.empty() && !find_shape(o.shape)) fail("--shape '{}' is not one of {}", o.shape, known_shape_names());
  if (!o.model.empty()) Model::load(o.model);  // a bad file fails before anything is printed
  if (o.powercap_root.empty()) {
    const char* root = std::getenv("TERN_POWERCAP_ROOT");
    o.powercap_root = root != nullptr && *root != '\0' ? root : "/sys/class/powercap";
  }
  EnergyProbe probe(o);
  std::vector<Row> rows;
  {
    const Subject ternary = make_subject(o, o.ternary_type);
    run_subject(o, ternary, probe, rows);
  }
  if (!o.compare.empty()) {
    const Subject baseline = make_subject(o, o.compare);
    run_subject(o, baseline, probe, rows);
  }
  print_rows(o, rows);
  print_comparison(o, rows);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* app = parent.add_subcommand("bench", "Measure prompt and generation tokens/s (and energy)");
  auto* model = app->add_option("-m,--model", o->model, "Model file (GGUF)");
  app->add_option("--shape", o->shape, "Random weights of a named shape: " + known_shape_names())->excludes(model);
  app->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (0: skip the prompt test)");
  app->add_option("-n,--n-gen", o->n_gen, "Generated tokens (0: skip the generation test)");
  app->add_option("-t,--threads", o->threads, "Thread counts to run, e.g. -t 1,2")
      ->delimiter(',')
      ->check(CLI::Range(1, 1024));
  add_kv_type_option(*app, o->kv_type);
  app->add_option("-r,--repetitions", o->repetitions, "Repetitions per test");
  app->add_option("--batch", o->batch,
                  "Also time generation of B sequences decoded together (aggregate tokens/s, 16-token prompts), "
                  "e.g. --batch 1,4,8,16")
      ->delimiter(',')
      ->check(CLI::Range(1, 256));
  app->add_option("--type", o->ternary_type, "With --shape: linear weight type (tern2, tern2r, tq2_0, tq1_0)");
  app->add_option("--embd-type", o->embd_type,
                  "With --shape: embedding / LM head type (q8_0, q4_0, q6_k, f16, bf16, f32)");
  app->add_option("--compare", o->compare,
                  "With --shape: also run it with f16 or q8_0 linears, or another ternary type (tern2, tern2r), "
                  "and print ratios")
      ->check(CLI::IsMember({"f16", "q8_0", "tern2", "tern2r"}));
  app->add_option("--output", o->output, "md (default), json, jsonl or csv")
      ->check(CLI::IsMember({"md", "json", "jsonl", "csv"}));
  app->add_flag("--json", o->json, "Same as --output json");
  app->add_option("--watts", o->watts, "Without energy counters: estimate energy from this power (labelled estimated)");
  app->add_option("--idle-baseline", o->idle_seconds, "Measure idle power for this many seconds first");
  app->add_option("--save", o->save, "With --shape: also write the random-weight model to this GGUF file");
  app->add_option("--powercap-root", o->powercap_root,
                  "Powercap tree (default $TERN_POWERCAP_ROOT or /sys/class/powercap)");
  add_log_options(*app, o->log);
  return {app, [o] { return run_bench(*o); }};
}

}  // namespace tern::cli
