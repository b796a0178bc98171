#pragma once
// Pieces every subcommand shares: logging flags, model loading, reading prompts.
#include <CLI/CLI.hpp>

#include <csignal>
#include <initializer_list>
#include <utility>
#include <vector>

#include <string>

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

}  // namespace tern::cli
