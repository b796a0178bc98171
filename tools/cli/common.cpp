#include "common.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tern/error.h"

namespace tern::cli {

void add_log_options(CLI::App& app, LogOptions& options) {
  app.add_flag("-v,--verbose", options.verbose, "Log diagnostics (same as --log-level info)");
  app.add_option("--log-level", options.level, "Diagnostics level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
}

void apply_log_options(const LogOptions& options) {
  auto logger = spdlog::stderr_color_mt("tern");
  logger->set_pattern("tern: %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(options.verbose ? spdlog::level::info : spdlog::level::from_str(options.level));
}

void add_kv_type_option(CLI::App& app, KvType& type) {
  app.add_option_function<std::string>(
         "--kv-type",
         [&type](const std::string& name) {
           const auto parsed = parse_kv_type(name);
           if (!parsed) throw CLI::ValidationError("--kv-type", "expected f32 or f16, got '" + name + "'");
           type = *parsed;
         },
         "KV cache element type: f32 (exact) or f16 (half the memory and attention reads; llama.cpp's default)")
      ->default_str("f32");
}

void add_sampler_options(CLI::App& app, SamplerParams& p) {
  app.add_option("--temp,--temperature", p.temperature, "Sampling temperature; 0 is greedy");
  app.add_option("--top-k", p.top_k, "Keep the k most likely tokens (0: off)");
  app.add_option("--top-p", p.top_p, "Nucleus sampling threshold in (0, 1]");
  app.add_option("--min-p", p.min_p, "Drop tokens less likely than this share of the best");
  app.add_option("--repeat-penalty", p.repeat_penalty, "Penalty for recent tokens (1: off)");
  app.add_option("--repeat-last-n", p.repeat_last_n, "How many recent tokens are penalized");
}

namespace {
volatile std::sig_atomic_t g_signals_received = 0;
extern "C" void count_signal(int) { g_signals_received = g_signals_received + 1; }
}  // namespace

SignalCounter::SignalCounter(std::initializer_list<int> signals) {
  g_signals_received = 0;
  struct sigaction action {};
  action.sa_handler = count_signal;
  for (const int signal : signals) {
    struct sigaction previous {};
    sigaction(signal, &action, &previous);
    previous_.emplace_back(signal, previous);
  }
}

SignalCounter::~SignalCounter() {
  for (const auto& [signal, previous] : previous_) sigaction(signal, &previous, nullptr);
}

int SignalCounter::received() { return g_signals_received; }

void add_prompt_options(CLI::App& app, std::string& prompt, std::string& prompt_file, const std::string& text_help,
                        const std::string& file_help) {
  auto* text = app.add_option("-p,--prompt", prompt, text_help + " ('-' reads standard input)");
  auto* file = app.add_option("-f,--file", prompt_file, file_help);
  text->excludes(file);
}

std::string read_prompt(const std::string& prompt, const std::string& prompt_file) {
  std::ostringstream text;
  if (!prompt_file.empty()) {
    if (std::filesystem::is_directory(prompt_file)) fail("{}: is a directory, expected a text file", prompt_file);
    std::ifstream in(prompt_file, std::ios::binary);
    if (!in) fail("{}: cannot open prompt file", prompt_file);
    text << in.rdbuf();
    return text.str();
  }
  if (prompt == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  return prompt;
}

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
#ifdef TERN_DEFAULT_MODEL
  if (std::filesystem::exists(TERN_DEFAULT_MODEL)) return TERN_DEFAULT_MODEL;
#endif
  fail("no model given: pass -m MODEL.gguf");
}

}  // namespace tern::cli
