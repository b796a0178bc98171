#pragma once
// Pieces every subcommand shares: logging flags, model loading, reading prompts.
#include <CLI/CLI.hpp>

#include <csignal>
#include <initializer_list>
#include <utility>
#include <vector>

#include <string>
#include <string_view>

#include "tern/chat.h"
#include "tern/model.h"
#include "tern/sampler.h"

namespace tern::cli {

struct LogOptions {
  bool verbose = false;
  std::string level = "warn";
};

// Adds -v / --log-level to a command.
void add_log_options(CLI::App& app, LogOptions& options);
// Applies them to spdlog (diagnostics go to stderr).
void apply_log_options(const LogOptions& options);

// Adds the sampling flags shared by run and batch (--temp, --top-k, --top-p, --min-p,
// --repeat-penalty, --repeat-last-n); --seed stays with each command, whose defaults differ.
void add_sampler_options(CLI::App& app, SamplerParams& params);

// While alive, counts deliveries of the given signals instead of letting them end the
// process, and restores the previous handlers after. The count is the CLI's one piece of
// process-wide state, as signals demand; one counter at a time.
class SignalCounter {
 public:
  explicit SignalCounter(std::initializer_list<int> signals);
  ~SignalCounter();
  SignalCounter(const SignalCounter&) = delete;
  SignalCounter& operator=(const SignalCounter&) = delete;

  // Signals received since the live counter was made.
  static int received();

 private:
  std::vector<std::pair<int, struct sigaction>> previous_;
};

// Reads a prompt given as text, "-" (standard input) or from a file (-f).
std::string read_prompt(const std::string& prompt, const std::string& prompt_file);

// -p TEXT ('-' reads standard input) or -f FILE, one or the other: what read_prompt takes.
void add_prompt_options(CLI::App& app, std::string& prompt, std::string& prompt_file, const std::string& text_help,
                        const std::string& file_help);

// Adds --kv-type f32|f16 (the KV cache's element type; f32 by default).
void add_kv_type_option(CLI::App& app, KvType& type);

// The model a command runs on: -m, or the model shipped in models/ when omitted.
std::string resolve_model_path(const std::string& given);

// -c (0: the model's context, at most 4096) and -t (0: all cores).
void add_context_options(CLI::App& app, int64_t& n_ctx, int32_t& threads);
// The context a generation runs in for -c `requested` (warns past the training context).
int64_t context_size(int64_t requested, const Model& model);

// --seed N; -1 (as in llama.cpp) or no --seed: a random seed, shown with -v.
void add_seed_option(CLI::App& app, uint64_t& seed, bool& given);

// --stop TEXT (repeatable) with C escapes interpreted, as a shell user types them: '\n'.
void add_stop_option(CLI::App& app, std::vector<std::string>& stop);
// "\n" -> newline, "\t", "\r", "\\", "\'", "\"", "\xNN"; other text as it is.
std::string unescape(std::string_view text);

// What `tern run` and `tern chat` share: the model, its context and how to sample.
struct GenerationOptions {
  std::string model;
  int64_t n_ctx = 0;  // 0: the model's context, at most 4096
  int32_t threads = 0;
  KvType kv_type = KvType::F32;
  std::vector<std::string> stop;
  bool seed_given = false;
  SamplerParams sampling;
  LogOptions log;
};

// -m, -c, -t, --kv-type, the sampler flags, --seed, --stop and the log flags.
void add_generation_options(CLI::App& app, GenerationOptions& options);
// Applies the log flags, draws a seed when none was given (shown with -v), checks the
// sampler, then loads the model.
Model load_for_generation(GenerationOptions& options);
// The context to generate in (-c, --kv-type) and the per-reply parameters (--stop).
Context generation_context(const GenerationOptions& options, const Model& model);
GenerationParams generation_params(const GenerationOptions& options, int32_t n_predict);

// Writes streamed text to stdout at once; false after Ctrl-C (which stops that reply only).
bool print_piece(std::string_view piece);

// The conversation loop of `tern chat` and `tern run -i`: one message a line from
// standard input (terminal or pipe) until end of input; "/clear" starts over. After
// each reply, stderr says when old turns were dropped or the reply was stopped or cut.
int converse(ChatSession& session, const Context& context, const GenerationParams& params);

// llama.cpp flags that mean nothing to tern, handled before parsing: -ngl / --n-gpu-layers
// 0 is dropped with a note (tern runs on the CPU), any other count and -cnv /
// --conversation fail saying what to do instead. Returns the arguments to parse.
std::vector<std::string> handle_llama_cpp_flags(int argc, char** argv);

}  // namespace tern::cli
