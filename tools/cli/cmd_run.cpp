// `tern run`: generate text from a prompt, or chat turn by turn with -i.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>

#include "commands.h"
#include "common.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

constexpr int64_t kDefaultMaxContext = 4096;  // KV memory grows with -c; models may allow far more

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int32_t n_predict = 128;
  int64_t n_ctx = 0;  // 0: the model's context, at most kDefaultMaxContext
  int32_t threads = 0;
  KvType kv_type = KvType::F32;
  std::vector<std::string> stop;
  bool interactive = false;
  bool seed_given = false;
  SamplerParams sampling;
  LogOptions log;
};

bool print_piece(std::string_view piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
  return SignalCounter::received() == 0;  // Ctrl-C stops this generation only
}

void print_timings(const GenerationTimings& t) {
  fmt::print(stderr, "\ntern: prompt {} tokens, {:.1f} tokens/s | generation {} tokens, {:.1f} tokens/s\n", t.n_prompt,
             t.prompt_tokens_per_second(), t.n_generated, t.generation_tokens_per_second());
}

int64_t context_size(const RunOptions& o, const Model& model) {
  const int64_t trained = model.config().context_length;
  if (o.n_ctx == 0) return std::min(trained, kDefaultMaxContext);
  if (o.n_ctx > trained) spdlog::warn("-c {} exceeds the model's training context {}", o.n_ctx, trained);
  return o.n_ctx;
}

int run_once(const RunOptions& o, Generator& generator, const GenerationParams& params) {
  const std::string prompt = read_prompt(o.prompt, o.prompt_file);
  const auto prompt_tokens = generator.tokenize_prompt(prompt);  // rejects a prompt that does not fit, before echoing it
  const SignalCounter interrupts({SIGINT});
  print_piece(prompt);
  const auto result = generator.generate(prompt_tokens, params, print_piece);
  print_timings(result.timings);
  return 0;
}

int run_interactive(Generator& generator, const GenerationParams& params) {
  fmt::print(stderr, "tern: interactive mode: Enter sends a line, Ctrl-C stops a reply, Ctrl-D exits\n");
  std::string line;
  while (true) {
    fmt::print(stderr, "> ");
    std::fflush(stderr);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    const SignalCounter interrupts({SIGINT});
    try {
      const auto result = generator.generate(line + "\n", params, print_piece);
      fmt::print("\n");
      if (result.finish == FinishReason::Cancelled) fmt::print(stderr, "tern: stopped\n");
    } catch (const Error& e) {
      fmt::print(stderr, "tern: error: {}\n", e.what());
      if (generator.history().size() > 0) return 1;  // a full context cannot take more turns
    }
  }
  fmt::print(stderr, "\n");
  return 0;
}

int run_generation(RunOptions o) {
  apply_log_options(o.log);
  if (o.interactive && (!o.prompt.empty() || !o.prompt_file.empty()))
    fail("-i reads prompts from the terminal; do not combine it with -p or -f");
  if (!o.seed_given) o.sampling.seed = std::random_device{}();
  o.sampling.validate();
  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  spdlog::info("kernels {}, {} threads", model.isa(), model.threads());
  Context context(model, context_size(o, model), Context::kDefaultBatch, o.kv_type);
  Generator generator(context, o.sampling);
  GenerationParams params;
  params.n_predict = o.n_predict;
  params.stop = o.stop;
  return o.interactive ? run_interactive(generator, params) : run_once(o, generator, params);
}

}  // namespace

Command add_run_command(CLI::App& parent) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* app = parent.add_subcommand("run", "Generate text from a prompt (or chat with -i)");
  app->add_option("-m,--model", o->model, "Model file (GGUF); default: the model shipped in models/");
  add_prompt_options(*app, o->prompt, o->prompt_file, "Prompt text", "Read the prompt from a file");
  app->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until the context is full)")
      ->check(CLI::Range(-1, 1 << 30));
  app->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens (default: the model's, at most 4096)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  add_kv_type_option(*app, o->kv_type);
  add_sampler_options(*app, o->sampling);
  app->add_option("--seed", o->sampling.seed, "Random seed (same seed, same text)")
      ->each([o](const std::string&) { o->seed_given = true; });
  app->add_option("--stop", o->stop, "Stop before this string (repeatable)");
  app->add_flag("-i,--interactive", o->interactive, "Chat on the terminal; context is kept across turns");
  add_log_options(*app, o->log);
  return {app, [o] { return run_generation(*o); }};
}

}  // namespace tern::cli
