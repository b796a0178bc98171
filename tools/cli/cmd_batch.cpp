// `tern batch`: run many prompts from a JSONL (or plain text) file with continuous
// batching, writing one JSON result line per prompt as it completes. Output order is
// completion order, not input order; match results to prompts by "id".
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "generation/batch.h"
#include "generation/batch_request.h"
#include "generation/shard.h"
#include "serving/openai_batch.h"
#include "tern/error.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

using json = nlohmann::json;

struct BatchOptions {
  std::string model;
  std::string input = "-";
  std::string output = "-";
  int parallel = 8;
  int32_t n_predict = 128;
  int64_t n_ctx = 0;  // 0: min(model's context, 2048)
  int32_t threads = 0;
  KvType kv_type = KvType::F32;
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool text = false;
  bool resume = false;
  std::string shard;
  bool quiet = false;
  LogOptions log;
};

// Writes a whole line with as few write() calls as the kernel allows (one, for a
// regular file), so a killed run leaves only whole lines behind.
void write_line(int fd, const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write the output: {}", std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::string line;
  if (path == "-") {
    while (std::getline(std::cin, line)) lines.push_back(line);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open the input {}", path);
    while (std::getline(in, line)) lines.push_back(line);
  }
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  return lines;
}

// Ids (the values of `key`) already in the output (for --resume). A torn last line
// (no '\n') is cut off.
std::set<std::string> done_ids(const std::string& path, const std::string& key) {
  std::set<std::string> ids;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ids;
  std::string all((std::istreambuf_iterator<char>(in)), {});
  in.close();
  const size_t whole = all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1;
  if (whole != all.size()) std::filesystem::resize_file(path, whole);
  std::istringstream lines(all.substr(0, whole));
  std::string line;
  while (std::getline(lines, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains(key)) ids.insert(j[key].dump());
  }
  return ids;
}

std::string result_line(const BatchResult& r) {
  nlohmann::ordered_json j;  // keys in the documented order: id first
  j["id"] = nlohmann::ordered_json::parse(r.id.dump());
  if (!r.error.empty()) {
    j["error"] = r.error;
  } else {
    j["text"] = r.text;
    j["tokens_prompt"] = r.tokens_prompt;
    j["tokens_generated"] = r.tokens_generated;
    j["finish_reason"] = std::string(finish_reason_name(r.finish));
    j["ms"] = static_cast<int64_t>(r.ms + 0.5);
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

int run_batch(BatchOptions o) {
  apply_log_options(o.log);
  o.sampling.validate();
  const Shard shard = o.shard.empty() ? Shard{} : parse_shard(o.shard);
  if (o.resume && o.output == "-") fail("--resume needs an output file (-o), not standard output");
  // By identity, not name: "x" and "./x" (or a link to x) are one file, and opening the
  // output truncates it before the input is read.
  std::error_code same_error;
  if (o.input != "-" && o.output != "-" && std::filesystem::equivalent(o.input, o.output, same_error))
    fail("the output {} is the input file {}: results would overwrite the prompts", o.output, o.input);

  const std::vector<std::string> lines = read_lines(o.input);
  // OpenAI Batch API files are told apart by their first line; ids are then "custom_id".
  const auto first = std::find_if(lines.begin(), lines.end(),
                                  [](const std::string& l) { return l.find_first_not_of(" \t") != std::string::npos; });
  const bool openai = !o.text && first != lines.end() && is_openai_batch_line(*first);
  const std::string id_key = openai ? "custom_id" : "id";
  const std::set<std::string> skip = o.resume ? done_ids(o.output, id_key) : std::set<std::string>{};

  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  const int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(model.config().context_length, 2048);
  spdlog::info("kernels {}, {} threads, {} sequences of {} tokens", model.isa(), model.threads(), o.parallel, n_ctx);

  int fd = 1;
  if (o.output != "-") {
    fd = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (o.resume ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) fail("cannot open the output {}: {}", o.output, std::strerror(errno));
  }

  // The lines this run handles: its shard, not empty, not already done.
  std::vector<size_t> todo;
  for (size_t k = 0; k < lines.size(); ++k) {
    if (!shard.contains(k)) continue;
    if (lines[k].empty() || (!o.text && lines[k].find_first_not_of(" \t") == std::string::npos)) continue;
    if (!skip.empty()) {
      json id = static_cast<int64_t>(k + 1);
      if (!o.text) {
        const json j = json::parse(lines[k], nullptr, false);
        if (j.is_object() && j.contains(id_key)) id = j[id_key];
      }
      if (skip.count(id.dump())) continue;
    }
    todo.push_back(k);
  }

  const BatchDefaults defaults{o.n_predict, o.sampling, o.stop, o.text};
  BatchRunner runner(model, o.parallel, n_ctx, o.kv_type);
  // First SIGINT/SIGTERM: take no new prompts, finish the live ones. Second: stop now.
  const SignalCounter signals({SIGINT, SIGTERM});
  const bool progress = !o.quiet && ::isatty(2);
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  size_t next_line = 0, done = 0;
  size_t n_errors = 0;

  auto show_progress = [&](bool final) {
    if (!progress) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_progress < std::chrono::milliseconds(500)) return;
    last_progress = now;
    const double s = std::chrono::duration<double>(now - start).count();
    const double tps = s > 0 ? static_cast<double>(runner.stats().generated_tokens) / s : 0;
    const double eta = done > 0 ? s / static_cast<double>(done) * static_cast<double>(todo.size() - done) : 0;
    fmt::print(stderr, "\rtern: {}/{} done, {:.1f} tokens/s, ETA {:.0f} s   {}", done, todo.size(), tps, eta,
               final ? "\n" : "");
    std::fflush(stderr);
  };

  // OpenAI format: the request of each live line number, for its output line.
  std::map<int64_t, std::pair<json, ApiRequest>> live_api_requests;
  const RequestDefaults api_defaults{o.sampling.seed, n_ctx, model_chat_template(model.tokenizer())};
  const std::string model_name = std::filesystem::path(model.path()).stem().string();
  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();

  BatchRunner::Callbacks cb;
  auto next_api_request = [&](size_t k) -> std::optional<BatchRequest> {
    const int64_t line_number = static_cast<int64_t>(k + 1);
    OpenAiBatchInput in = parse_openai_batch_line(lines[k], model.tokenizer(), api_defaults);
    if (in.error) {
      ++n_errors;
      write_line(fd, openai_batch_error_line(in.custom_id, std::to_string(line_number), *in.error, in.line_error));
      ++done;
      return std::nullopt;
    }
    BatchRequest request = std::move(in.request->generation);
    request.id = line_number;
    live_api_requests.emplace(line_number, std::make_pair(std::move(in.custom_id), std::move(*in.request)));
    return request;
  };
  cb.next = [&]() -> std::optional<BatchRequest> {
    while (next_line < todo.size()) {
      const size_t k = todo[next_line++];
      if (openai) {
        if (auto request = next_api_request(k)) return request;
        continue;
      }
      json id;
      try {
        return parse_batch_line(lines[k], k + 1, defaults, id);
      } catch (const Error& e) {
        BatchResult failed;
        failed.id = id;
        failed.error = e.what();
        cb.on_result(std::move(failed));
      }
    }
    return std::nullopt;
  };
  cb.on_result = [&](BatchResult r) {
    if (!r.error.empty()) ++n_errors;
    if (openai) {
      const auto live = live_api_requests.find(r.id.get<int64_t>());
      write_line(fd, openai_batch_output_line(live->second.first, r.id.dump(), live->second.second, model_name, r, created));
      live_api_requests.erase(live);
    } else {
      write_line(fd, result_line(r));
    }
    ++done;
    show_progress(false);
  };
  cb.take_more = [] { return SignalCounter::received() == 0; };
  cb.abandon = [] { return SignalCounter::received() > 1; };
  runner.run(cb);
  show_progress(true);
  if (fd != 1) ::close(fd);
  if (SignalCounter::received() > 0) fmt::print(stderr, "tern: interrupted: {} of {} prompts done; --resume finishes the rest\n", done,
                                todo.size());
  if (n_errors == 0) return 0;
  // One summary line, so a failed prompt shows on the terminal and in the exit code.
  fmt::print(stderr, "tern: error: {} of {} prompts failed; their records in {} carry an \"error\"\n", n_errors,
             todo.size(), o.output == "-" ? "the output" : o.output);
  return 1;
}

}  // namespace

Command add_batch_command(CLI::App& parent) {
  auto o = std::make_shared<BatchOptions>();
  CLI::App* app = parent.add_subcommand(
      "batch", "Run many prompts (JSONL in, JSONL out in completion order) with continuous batching");
  app->add_option("-m,--model", o->model, "Model file (GGUF); default: the model shipped in models/");
  app->add_option("-i,--input", o->input, "Prompts: JSONL {\"id\", \"prompt\", ...} per line, or OpenAI Batch API lines "
                 "{\"custom_id\", \"method\", \"url\", \"body\"} (answered in its output format) ('-': standard input)");
  app->add_option("-o,--output", o->output, "Results: one JSON line per prompt ('-': standard output)");
  app->add_option("--parallel", o->parallel, "Sequences run at once")->check(CLI::Range(1, 4096));
  app->add_option("-n,--n-predict", o->n_predict, "Tokens to generate per prompt (-1: until the context is full)")
      ->check(CLI::Range(-1, 1 << 30));
  app->add_option("-c,--ctx-size", o->n_ctx, "Context per sequence (default: the model's, at most 2048)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  add_kv_type_option(*app, o->kv_type);
  add_sampler_options(*app, o->sampling);  // defaults for requests that do not set their own
  app->add_option("--seed", o->sampling.seed, "Default seed of every prompt (default 0: runs are reproducible)");
  app->add_option("--stop", o->stop, "Default stop string (repeatable)");
  app->add_flag("--text", o->text, "Input is plain text: one prompt per line, id = line number");
  app->add_flag("--resume", o->resume, "Skip ids already in the output file and append the rest");
  app->add_option("--shard", o->shard, "I/N: run only input lines k (0-based) with k % N == I; auto or auto/N: I and N from "
                 "a Slurm job array or a Kubernetes Indexed Job (see docs/SCALE-OUT.md)");
  app->add_flag("-q,--quiet", o->quiet, "No progress line");
  add_log_options(*app, o->log);
  return {app, [o] { return run_batch(*o); }};
}

}  // namespace tern::cli
