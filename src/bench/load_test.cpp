#include "tern/load_test.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tern {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Sample {
  bool ok = false;
  std::string error;
  int64_t tokens = 0;
  double ttft_ms = 0;
  double tpot_ms = -1;  // < 0: fewer than two tokens
};

// Reads the server-sent events of one streamed completion as they arrive.
class StreamReader {
 public:
  explicit StreamReader(Clock::time_point sent) : sent_(sent) {}

  bool feed(const char* data, size_t n) {
    buffer_.append(data, n);
    size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
      const std::string event = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      if (event == "data: [DONE]") {
        done_ = true;
        continue;
      }
      const json j = json::parse(event.substr(6), nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) error_ = j["error"].value("message", "error event");
      if (j.contains("usage") && j["usage"].is_object()) tokens_ = j["usage"].value("completion_tokens", int64_t{0});
      if (j.contains("choices") && !j["choices"].empty() && !j["choices"][0].value("text", "").empty()) {
        const auto now = Clock::now();
        if (!first_) first_ = now;
        last_ = now;
      }
    }
    return true;
  }

  Sample sample() const {
    Sample s;
    s.ok = done_ && error_.empty() && first_;
    s.error = !error_.empty() ? error_ : !done_ ? "the stream ended without [DONE]" : !first_ ? "no text streamed" : "";
    s.tokens = tokens_;
    if (first_) s.ttft_ms = std::chrono::duration<double, std::milli>(*first_ - sent_).count();
    if (first_ && tokens_ >= 2)
      s.tpot_ms = std::chrono::duration<double, std::milli>(last_ - *first_).count() / static_cast<double>(tokens_ - 1);
    return s;
  }

 private:
  Clock::time_point sent_;
  std::string buffer_;
  bool done_ = false;
  std::string error_;
  int64_t tokens_ = 0;
  std::optional<Clock::time_point> first_;
  Clock::time_point last_;
};

Sample one_request(const LoadTestOptions& o, httplib::Client& client, int index) {
  static const char* prompts[] = {"In the beginning", "And it came to pass", "The LORD is my shepherd", "And God said",
                                  "Blessed are they"};
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  if (!o.api_key.empty()) req.set_header("Authorization", "Bearer " + o.api_key);
  // min_tokens does not exist in the API: a long stop-free prompt keeps most runs at max_tokens.
  req.body = json{{"prompt", prompts[index % 5]},
                  {"max_tokens", o.max_tokens},
                  {"temperature", o.temperature},
                  {"seed", index},
                  {"stream", true},
                  {"stream_options", {{"include_usage", true}}}}
                 .dump();
  StreamReader reader(Clock::now());
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) { return reader.feed(data, n); };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  if (!client.send(req, res, error)) return Sample{false, fmt::format("request failed: {}", httplib::to_string(error))};
  if (res.status != 200) return Sample{false, fmt::format("HTTP status {}", res.status)};
  return reader.sample();
}

}  // namespace

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

LoadTestReport run_load_test(const LoadTestOptions& o) {
  LoadTestReport report;
  std::mutex mutex;
  std::atomic<int> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c)
    clients.emplace_back([&] {
      httplib::Client client(o.host, o.port);
      const auto timeout = static_cast<time_t>(o.timeout_seconds);
      client.set_read_timeout(timeout, 0);
      client.set_connection_timeout(10, 0);
      for (int i = next++; i < o.requests; i = next++) {
        const Sample s = one_request(o, client, i);
        const std::lock_guard lock(mutex);
        if (!s.ok) {
          ++report.failed;
          if (report.first_error.empty()) report.first_error = s.error;
          continue;
        }
        ++report.ok;
        report.tokens += s.tokens;
        report.ttft_ms.push_back(s.ttft_ms);
        if (s.tpot_ms >= 0) report.tpot_ms.push_back(s.tpot_ms);
      }
    });
  for (auto& t : clients) t.join();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace tern
