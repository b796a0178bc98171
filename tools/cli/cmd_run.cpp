// `tern run`: generate text from a prompt, or chat turn by turn with -i.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "tern/chat.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

struct RunOptions {
  GenerationOptions generation;  // -m, -c, -t, --kv-type, sampling, --seed, --stop, logging
  std::string prompt;
  std::string prompt_file;
  int32_t n_predict = 128;
  bool interactive = false;
};

void print_timings(const GenerationTimings& t) {
  fmt::print(stderr, "\ntern: prompt {} tokens, {:.1f} tokens/s | generation {} tokens, {:.1f} tokens/s\n", t.n_prompt,
             t.prompt_tokens_per_second(), t.n_generated, t.generation_tokens_per_second());
}

int run_once(const RunOptions& o, Generator& generator, const GenerationParams& params) {
  const std::string prompt = read_prompt(o.prompt, o.prompt_file);
  const auto prompt_tokens =
      generator.tokenize_prompt(prompt);  // rejects a prompt that does not fit, before echoing it
  const SignalCounter interrupts({SIGINT});
  print_piece(prompt);
  const auto result = generator.generate(prompt_tokens, params, print_piece);
  print_timings(result.timings);
  return 0;
}

// Each line continues the text so far and the reply continues the line (no
// newline is added: the model would start a new line, often mid-word). When
// the context fills, the oldest turns make way.
int run_interactive(Context& context, const SamplerParams& sampling, const GenerationParams& params) {
  fmt::print(stderr,
             "tern: interactive mode: Enter sends a line, Ctrl-C stops a reply, /clear starts over, "
             "Ctrl-D exits\n");
  ChatSession session(context, sampling, ChatTemplate::named("continue"), "");
  return converse(session, context, params);
}

int run_generation(RunOptions o) {
  if (o.interactive && (!o.prompt.empty() || !o.prompt_file.empty()))
    fail("-i reads prompts from the terminal; do not combine it with -p or -f");
  const Model model = load_for_generation(o.generation);
  Context context = generation_context(o.generation, model);
  const GenerationParams params = generation_params(o.generation, o.n_predict);
  if (o.interactive) return run_interactive(context, o.generation.sampling, params);
  Generator generator(context, o.generation.sampling);
  return run_once(o, generator, params);
}

}  // namespace

Command add_run_command(CLI::App& parent) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* app = parent.add_subcommand("run", "Generate text from a prompt (or chat with -i)");
  add_prompt_options(*app, o->prompt, o->prompt_file, "Prompt text", "Read the prompt from a file");
  app->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until the context is full)")
      ->check(CLI::Range(-1, 1 << 30));
  app->add_flag("-i,--interactive", o->interactive, "Chat on the terminal; context is kept across turns");
  add_generation_options(*app, o->generation);
  return {app, [o] { return run_generation(*o); }};
}

}  // namespace tern::cli
