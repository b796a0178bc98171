#include "tern/batch_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "generation/shard.h"
#include "serving/continuous_batch.h"
#include "serving/openai_batch.h"
#include "tern/error.h"

namespace tern {
namespace {

using json = nlohmann::json;

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

// Ids (the values of `key`) already in the output (for resume). A torn last line
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

bool blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

// The output file descriptor for the whole run (standard output stays open).
class Output {
 public:
  Output(const std::string& path, bool append) {
    if (path == "-") return;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd_ < 0) fail("cannot open the output {}: {}", path, std::strerror(errno));
  }
  ~Output() {
    if (fd_ != 1) ::close(fd_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  void write(const std::string& line) const { write_line(fd_, line); }

 private:
  int fd_ = 1;
};

}  // namespace

struct BatchFile::State {
  BatchFileOptions options;
  std::vector<std::string> lines;
  bool openai = false;
  std::vector<size_t> todo;  // the line numbers (0-based) this run handles
};

BatchFile::BatchFile(BatchFileOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const BatchFileOptions& o = s.options;
  const Shard shard = o.shard.empty() ? Shard{} : parse_shard(o.shard);
  if (o.resume && o.output == "-") fail("--resume needs an output file (-o), not standard output");
  // By identity, not name: "x" and "./x" (or a link to x) are one file, and opening the
  // output truncates it before the input is read.
  std::error_code same_error;
  if (o.input != "-" && o.output != "-" && std::filesystem::equivalent(o.input, o.output, same_error))
    fail("the output {} is the input file {}: results would overwrite the prompts", o.output, o.input);

  s.lines = read_lines(o.input);
  const bool text = o.defaults.text;
  // OpenAI Batch API files are told apart by their first line; ids are then "custom_id".
  const auto first = std::find_if(s.lines.begin(), s.lines.end(), [](const std::string& l) { return !blank(l); });
  s.openai = !text && first != s.lines.end() && is_openai_batch_line(*first);
  const std::string id_key = s.openai ? "custom_id" : "id";
  const std::set<std::string> skip = o.resume ? done_ids(o.output, id_key) : std::set<std::string>{};

  for (size_t k = 0; k < s.lines.size(); ++k) {
    if (!shard.contains(k)) continue;
    if (s.lines[k].empty() || (!text && blank(s.lines[k]))) continue;
    if (!skip.empty()) {
      json id = static_cast<int64_t>(k + 1);
      if (!text) {
        const json j = json::parse(s.lines[k], nullptr, false);
        if (j.is_object() && j.contains(id_key)) id = j[id_key];
      }
      if (skip.count(id.dump())) continue;
    }
    s.todo.push_back(k);
  }
}

BatchFile::~BatchFile() = default;

bool BatchFile::openai_format() const { return state_->openai; }

size_t BatchFile::pending() const { return state_->todo.size(); }

BatchFileSummary BatchFile::run(const Model& model, const BatchParams& params, const BatchFileControl& control) {
  const State& s = *state_;
  const BatchFileOptions& o = s.options;
  const Output out(o.output, o.resume);
  BatchRunner runner(model, params);
  BatchFileSummary summary;
  summary.total = s.todo.size();
  size_t next = 0;

  // OpenAI format: the request of each live line number, for its output line.
  std::map<int64_t, std::pair<json, ApiRequest>> live_api_requests;
  const RequestDefaults api_defaults{o.defaults.sampling.seed, runner.n_ctx(), model_chat_template(model.tokenizer())};
  const std::string model_name = model.path().stem().string();
  const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  auto written = [&](bool failed) {
    ++summary.done;
    summary.failed += failed;
    if (control.on_progress) control.on_progress({summary.done, summary.total, runner.stats().generated_tokens});
  };
  auto next_api_request = [&](size_t k) -> std::optional<BatchRequest> {
    const int64_t line_number = static_cast<int64_t>(k + 1);
    OpenAiBatchInput in = parse_openai_batch_line(s.lines[k], model.tokenizer(), api_defaults);
    if (in.error) {
      out.write(openai_batch_error_line(in.custom_id, std::to_string(line_number), *in.error, in.line_error));
      written(true);
      return std::nullopt;
    }
    BatchRequest request = std::move(in.request->generation);
    request.id = line_number;
    live_api_requests.emplace(line_number, std::make_pair(std::move(in.custom_id), std::move(*in.request)));
    return request;
  };

  ContinuousCallbacks cb;
  cb.next = [&]() -> std::optional<BatchRequest> {
    while (next < s.todo.size()) {
      const size_t k = s.todo[next++];
      if (s.openai) {
        if (auto request = next_api_request(k)) return request;
        continue;
      }
      std::string id_json;  // set before parse_batch_line can throw
      try {
        return batch_request_of(parse_batch_line(s.lines[k], k + 1, o.defaults, id_json), id_json);
      } catch (const Error& e) {
        BatchResult failed;
        failed.id = json::parse(id_json);
        failed.error = e.what();
        cb.on_result(std::move(failed));
      }
    }
    return std::nullopt;
  };
  cb.on_result = [&](BatchResult r) {
    const bool failed = !r.error.empty();
    if (s.openai) {
      const auto live = live_api_requests.find(r.id.get<int64_t>());
      out.write(openai_batch_output_line(live->second.first, r.id.dump(), live->second.second, model_name, r, created));
      live_api_requests.erase(live);
    } else {
      out.write(result_line(r));
    }
    written(failed);
  };
  cb.take_more = control.take_more;
  cb.abandon = control.abandon;
  run_continuous(runner, cb);
  return summary;
}

}  // namespace tern
