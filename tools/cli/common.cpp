#include "common.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <fmt/format.h>

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

void add_context_options(CLI::App& app, int64_t& n_ctx, int32_t& threads) {
  app.add_option("-c,--ctx-size", n_ctx, "Context size in tokens (0: the model's, at most 4096)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  app.add_option("-t,--threads", threads, "Threads (0: all cores)")->check(CLI::Range(0, 1024));
}

int64_t context_size(int64_t requested, const Model& model) {
  constexpr int64_t kDefaultMaxContext = 4096;  // KV memory grows with -c; models may allow far more
  const int64_t trained = model.config().context_length;
  if (requested == 0) return std::min(trained, kDefaultMaxContext);
  if (requested > trained) spdlog::warn("-c {} exceeds the model's training context {}", requested, trained);
  return requested;
}

void add_seed_option(CLI::App& app, uint64_t& seed, bool& given) {
  app.add_option_function<int64_t>(
         "--seed",
         [&seed, &given](int64_t value) {
           if (value < -1) throw CLI::ValidationError("--seed", "expected -1 (random) or a seed >= 0");
           given = value >= 0;
           if (given) seed = static_cast<uint64_t>(value);
         },
         "Random seed (same seed, same text); -1: a random one")
      ->default_str("-1");
}

std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    if (c == 'n') out += '\n';
    else if (c == 't') out += '\t';
    else if (c == 'r') out += '\r';
    else if (c == '\\' || c == '\'' || c == '"') out += c;
    else if (c == 'x' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      (out += '\\') += c;  // not an escape tern knows: kept as typed
    }
  }
  return out;
}

void add_stop_option(CLI::App& app, std::vector<std::string>& stop) {
  app.add_option_function<std::vector<std::string>>(
      "--stop",
      [&stop](const std::vector<std::string>& values) {
        for (const auto& v : values) stop.push_back(unescape(v));
      },
      "Stop before this string (repeatable; escapes such as '\\n' are interpreted)");
}

void add_generation_options(CLI::App& app, GenerationOptions& o) {
  app.add_option("-m,--model", o.model, "Model file (GGUF); default: the model shipped in models/");
  add_context_options(app, o.n_ctx, o.threads);
  add_kv_type_option(app, o.kv_type);
  add_sampler_options(app, o.sampling);
  add_seed_option(app, o.sampling.seed, o.seed_given);
  add_stop_option(app, o.stop);
  add_log_options(app, o.log);
}

Model load_for_generation(GenerationOptions& o) {
  apply_log_options(o.log);
  if (!o.seed_given) o.sampling.seed = std::random_device{}();
  spdlog::info("seed {}", o.sampling.seed);
  o.sampling.validate();
  LoadOptions load;
  load.threads = o.threads;
  Model model = Model::load(resolve_model_path(o.model), load);
  spdlog::info("kernels {}, {} threads", model.isa(), model.threads());
  return model;
}

Context generation_context(const GenerationOptions& o, const Model& model) {
  return Context(model, context_size(o.n_ctx, model), Context::kDefaultBatch, o.kv_type);
}

GenerationParams generation_params(const GenerationOptions& o, int32_t n_predict) {
  GenerationParams params;
  params.n_predict = n_predict;
  params.stop = o.stop;
  return params;
}

bool print_piece(std::string_view piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
  return SignalCounter::received() == 0;
}

namespace {

void report_turn(const ChatSession& session, const ChatTurn& turn, const Context& context, int32_t n_predict) {
  const bool has_system = !session.messages().empty() && session.messages().front().role == "system";
  if (turn.dropped_messages > 0)
    fmt::print(stderr, "tern: dropped the {} oldest messages to make room{}\n", turn.dropped_messages,
               has_system ? " (the system prompt stays)" : "");
  if (turn.finish == FinishReason::Cancelled) fmt::print(stderr, "tern: stopped\n");
  if (turn.finish != FinishReason::Length) return;
  if (context.n_past() >= context.n_ctx())
    fmt::print(stderr, "tern: reply cut: the context is full (the oldest turns make way next time)\n");
  else fmt::print(stderr, "tern: reply cut: it reached -n {} tokens\n", n_predict);
}

}  // namespace

int converse(ChatSession& session, const Context& context, const GenerationParams& params) {
  for (std::string line;;) {
    fmt::print(stderr, "> ");
    std::fflush(stderr);
    if (!std::getline(std::cin, line)) break;
    if (line == "/clear") {
      session.clear();
      fmt::print(stderr, "tern: conversation cleared\n");
      continue;
    }
    if (line.empty()) continue;
    const SignalCounter interrupts({SIGINT});
    try {
      const ChatTurn turn = session.send(line, params, print_piece);
      fmt::print("\n");
      std::fflush(stdout);
      report_turn(session, turn, context, params.n_predict);
    } catch (const Error& e) {  // a message that does not fit: say so, the conversation goes on
      fmt::print(stderr, "tern: error: {}\n", e.what());
    }
  }
  fmt::print(stderr, "\n");
  return 0;
}

std::vector<std::string> handle_llama_cpp_flags(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-ngl" || arg == "--n-gpu-layers" || arg == "--gpu-layers" || arg.starts_with("--n-gpu-layers=")) {
      std::string value = arg.starts_with("--n-gpu-layers=") ? arg.substr(15) : (i + 1 < argc ? argv[++i] : "");
      if (value != "0") fail("{} {}: tern runs on the CPU only; drop the flag", arg, value);
      std::fprintf(stderr, "tern: note: tern runs on the CPU; -ngl 0 changes nothing\n");
      continue;
    }
    if (arg == "-cnv" || arg == "--conversation")
      fail("{}: for a conversation use `tern chat -m MODEL` (or `tern run -i` to continue text)", arg);
    args.push_back(arg);
  }
  return args;
}

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
#ifdef TERN_DEFAULT_MODEL
  if (std::filesystem::exists(TERN_DEFAULT_MODEL)) return TERN_DEFAULT_MODEL;
#endif
  fail("no model given: pass -m MODEL.gguf");
}

}  // namespace tern::cli
