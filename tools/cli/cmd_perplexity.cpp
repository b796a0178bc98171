// `tern perplexity`: how well a model predicts a text (sliding window).
#include <fmt/format.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "tern/error.h"
#include "tern/model.h"
#include "tern/perplexity.h"

namespace tern::cli {
namespace {

struct PerplexityOptions {
  std::string model;
  std::string file;
  int64_t context = 0;  // 0: the model's, at most 512
  int64_t stride = 0;   // 0: half the context
  int threads = 0;
  KvType kv_type = KvType::F32;
  LogOptions log;
};

int run_perplexity(const PerplexityOptions& o) {
  apply_log_options(o.log);
  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  const std::string text = read_prompt("", o.file);
  const auto tokens = model.tokenizer().encode(text, true);
  const int64_t context = o.context > 0 ? o.context : std::min<int64_t>(model.config().context_length, 512);
  const int64_t stride = o.stride > 0 ? o.stride : std::max<int64_t>(1, context / 2);
  const bool show = ::isatty(STDERR_FILENO) != 0;
  const auto r = compute_perplexity(model, tokens, context, stride, o.kv_type, [&](int64_t done, int64_t total) {
    if (show) fmt::print(stderr, "\rtern: window {}/{}", done, total);
  });
  if (show) fmt::print(stderr, "\n");
  fmt::print("perplexity {:.4f} over {} scored tokens ({} tokens in {} windows of {}, stride {})\n", r.perplexity,
             r.n_scored, tokens.size(), r.n_windows, context, stride);
  fmt::print(stderr, "tern: {:.1f} tokens/s ({} tokens evaluated in {:.2f} s, {} kernels, {} threads)\n",
             r.n_evaluated / r.seconds, r.n_evaluated, r.seconds, model.isa(), model.threads());
  return 0;
}

}  // namespace

Command add_perplexity_command(CLI::App& parent) {
  auto o = std::make_shared<PerplexityOptions>();
  CLI::App* app = parent.add_subcommand("perplexity", "Perplexity of a model over a text file (sliding window)");
  app->add_option("-m,--model", o->model, "Model file (GGUF); default: the model shipped in models/");
  app->add_option("-f,--file", o->file, "Text file")->required();
  app->add_option("-c,--ctx-size", o->context, "Window length in tokens (default: the model's, at most 512)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  app->add_option("--stride", o->stride, "Tokens between window starts (default: half the window)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  add_kv_type_option(*app, o->kv_type);
  add_log_options(*app, o->log);
  return {app, [o] { return run_perplexity(*o); }};
}

}  // namespace tern::cli
