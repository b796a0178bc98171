// `tern batch`: run many prompts from a JSONL (or plain text) file with continuous
// batching, writing one JSON result line per prompt as it completes. Output order is
// completion order, not input order; match results to prompts by "id".
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "tern/batch.h"
#include "tern/batch_file.h"
#include "tern/error.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

struct BatchOptions {
  std::string model;
  BatchFileOptions file;  // input, output, shard, resume and the requests' defaults
  int parallel = 8;
  int64_t n_ctx = 0;  // 0: min(model's context, 2048)
  int32_t threads = 0;
  KvType kv_type = KvType::F32;
  bool quiet = false;
  LogOptions log;
};

// "\rtern: 12/300 done, 85.3 tokens/s, ETA 40 s" at most twice a second (and at the end).
class ProgressLine {
 public:
  void show(const BatchFileProgress& p, bool final) {
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double tps = s > 0 ? static_cast<double>(p.generated_tokens) / s : 0;
    const double eta = p.done > 0 ? s / static_cast<double>(p.done) * static_cast<double>(p.total - p.done) : 0;
    fmt::print(stderr, "\rtern: {}/{} done, {:.1f} tokens/s, ETA {:.0f} s   {}", p.done, p.total, tps, eta,
               final ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};

int run_batch(BatchOptions o) {
  apply_log_options(o.log);
  o.file.defaults.sampling.validate();
  BatchFile file(o.file);  // checks the options and reads the input before the model loads

  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  const int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(model.config().context_length, 2048);
  spdlog::info("kernels {}, {} threads, {} sequences of {} tokens", model.isa(), model.threads(), o.parallel, n_ctx);

  // First SIGINT/SIGTERM: take no new prompts, finish the live ones. Second: stop now.
  const SignalCounter signals({SIGINT, SIGTERM});
  const bool progress = !o.quiet && ::isatty(2);
  ProgressLine line;
  BatchFileProgress last{0, file.pending(), 0};
  BatchFileControl control;
  control.take_more = [] { return SignalCounter::received() == 0; };
  control.abandon = [] { return SignalCounter::received() > 1; };
  control.on_progress = [&](const BatchFileProgress& p) {
    last = p;
    if (progress) line.show(p, false);
  };
  const BatchFileSummary summary =
      file.run(model, BatchParams{.parallel = o.parallel, .n_ctx = n_ctx, .kv_type = o.kv_type}, control);
  if (progress) line.show(last, true);
  if (SignalCounter::received() > 0)
    fmt::print(stderr, "tern: interrupted: {} of {} prompts done; --resume finishes the rest\n", summary.done,
               summary.total);
  if (summary.failed == 0) return 0;
  // One summary line, so a failed prompt shows on the terminal and in the exit code.
  fmt::print(stderr, "tern: error: {} of {} prompts failed; their records in {} carry an \"error\"\n", summary.failed,
             summary.total, o.file.output == "-" ? "the output" : o.file.output);
  return 1;
}

}  // namespace

Command add_batch_command(CLI::App& parent) {
  auto o = std::make_shared<BatchOptions>();
  CLI::App* app = parent.add_subcommand(
      "batch", "Run many prompts (JSONL in, JSONL out in completion order) with continuous batching");
  app->add_option("-m,--model", o->model, "Model file (GGUF); default: the model shipped in models/");
  app->add_option(
      "-i,--input", o->file.input,
      "Prompts: JSONL {\"id\", \"prompt\", ...} per line, or OpenAI Batch API lines "
      "{\"custom_id\", \"method\", \"url\", \"body\"} (answered in its output format) ('-': standard input)");
  app->add_option("-o,--output", o->file.output, "Results: one JSON line per prompt ('-': standard output)");
  app->add_option("--parallel", o->parallel, "Sequences run at once")->check(CLI::Range(1, 4096));
  app->add_option("-n,--n-predict", o->file.defaults.n_predict,
                  "Tokens to generate per prompt (-1: until the context is full)")
      ->check(CLI::Range(-1, 1 << 30));
  app->add_option("-c,--ctx-size", o->n_ctx, "Context per sequence (default: the model's, at most 2048)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  add_kv_type_option(*app, o->kv_type);
  add_sampler_options(*app, o->file.defaults.sampling);  // defaults for requests that do not set their own
  app->add_option("--seed", o->file.defaults.sampling.seed,
                  "Default seed of every prompt (default 0: runs are reproducible)");
  app->add_option("--stop", o->file.defaults.stop, "Default stop string (repeatable)");
  app->add_flag("--text", o->file.defaults.text, "Input is plain text: one prompt per line, id = line number");
  app->add_flag("--resume", o->file.resume, "Skip ids already in the output file and append the rest");
  app->add_option("--shard", o->file.shard,
                  "I/N: run only input lines k (0-based) with k % N == I; auto or auto/N: I and N from "
                  "a Slurm job array or a Kubernetes Indexed Job (see docs/SCALE-OUT.md)");
  app->add_flag("-q,--quiet", o->quiet, "No progress line");
  add_log_options(*app, o->log);
  return {app, [o] { return run_batch(*o); }};
}

}  // namespace tern::cli
