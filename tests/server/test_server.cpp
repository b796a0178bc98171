// `tern serve`: the server on a free 127.0.0.1 port, driven with cpp-httplib's client
// (tests/server/server_support.h).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "server_support.h"
#include "tern/model.h"
#include "tern/server.h"

namespace tern {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

using testing::metric;
using testing::post;
using testing::RunningServer;
using testing::shipped_model;
using testing::shipped_model_path;
using testing::streaming_request;

// The events of a server-sent event stream: every one "data: ...\n\n", the last [DONE].
std::vector<json> sse_events(const std::string& body) {
  std::vector<json> events;
  size_t at = 0;
  bool done = false;
  while (at < body.size()) {
    const size_t end = body.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated event: " << body.substr(at);
    if (end == std::string::npos) break;
    const std::string event = body.substr(at, end - at);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    EXPECT_FALSE(done) << "event after [DONE]: " << event;
    if (event == "data: [DONE]") done = true;
    else events.push_back(json::parse(event.substr(6)));
    at = end + 2;
  }
  EXPECT_TRUE(done) << "no data: [DONE]";
  return events;
}

// The text a stream carries.
std::string streamed_text(const std::vector<json>& events) {
  std::string text;
  for (const json& e : events)
    for (const json& c : e["choices"])
      text += c.contains("text") ? c["text"].get<std::string>() : c["delta"].value("content", "");
  return text;
}

void expect_api_error(const httplib::Result& r, int status, const std::string& param = "",
                      const std::string& code = "") {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  const json body = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(body.is_object() && body.contains("error")) << r->body;
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_TRUE(body["error"]["type"].is_string());
  if (!param.empty()) {
    EXPECT_EQ(body["error"]["param"], param) << r->body;
  }
  if (!code.empty()) {
    EXPECT_EQ(body["error"]["code"], code) << r->body;
  }
}

TEST(Server, HealthModelsAndMetrics) {
  RunningServer s;
  auto r = s.client()->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  r = s.client()->Get("/v1/models");
  ASSERT_TRUE(r);
  const json models = json::parse(r->body);
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "tern-kjv");
  EXPECT_EQ(models["data"][0]["object"], "model");
  ASSERT_TRUE(post(s, "/v1/completions", {{"prompt", "In the beginning"}, {"max_tokens", 5}, {"temperature", 0}}));
  r = s.client()->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain", 0), 0u);
  for (const char* name : {"tern_requests_total", "tern_prompt_tokens_total", "tern_generated_tokens_total",
                           "tern_tokens_per_second", "tern_queue_depth", "tern_slots_busy"})
    EXPECT_NE(r->body.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  EXPECT_EQ(metric(s, "tern_requests_total"), 1);
  EXPECT_EQ(metric(s, "tern_generated_tokens_total"), 5);
  EXPECT_EQ(metric(s, "tern_slots_total"), 4);
  EXPECT_GT(metric(s, "tern_tokens_per_second"), 0);
}

// Greedy text from the server equals `tern run`'s (one sequence, its own code path).
TEST(Server, GreedyCompletionMatchesTernRun) {
  RunningServer s;
  const auto r = post(s, "/v1/completions",
                      {{"model", "tern-kjv"}, {"prompt", "And God said"}, {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = json::parse(r->body);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["model"], "tern-kjv");
  EXPECT_EQ(body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  const json& choice = body["choices"][0];
  EXPECT_EQ(body["usage"]["completion_tokens"], 12);
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"].get<int64_t>(),
            static_cast<int64_t>(shipped_model().tokenizer().encode("And God said", true).size()));
  const auto run = testing::run_tern_cli("run -t 2 -m " + testing::shell_quote(shipped_model_path()) +
                                         " -n 12 --temp 0 -p 'And God said'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ("And God said" + choice["text"].get<std::string>(), run.out);
}

TEST(Server, ChatCompletion) {
  RunningServer s;
  const json request = json::parse(R"({"model": "tern-kjv", "messages": [
      {"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}],
      "max_tokens": 8, "seed": 3})");
  const auto r = post(s, "/v1/chat/completions", request);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = json::parse(r->body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(body["choices"][0]["message"]["content"].is_string());
  EXPECT_LE(body["usage"]["completion_tokens"].get<int>(), 8);
  EXPECT_EQ(body["usage"]["total_tokens"],
            body["usage"]["prompt_tokens"].get<int>() + body["usage"]["completion_tokens"].get<int>());
}

TEST(Server, StreamingFramesAndSameTextAsWhole) {
  RunningServer s;
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    json request = {{"max_tokens", 20}, {"seed", 11}, {"temperature", 0.9}};
    if (std::string(path) == "/v1/completions") request["prompt"] = "The LORD is my shepherd";
    else request["messages"] = {{{"role", "user"}, {"content", "Who made the heaven?"}}};
    const auto whole = post(s, path, request);
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200);
    const json body = json::parse(whole->body);
    request["stream"] = true;
    request["stream_options"] = {{"include_usage", true}};
    const auto streamed = post(s, path, request);
    ASSERT_TRUE(streamed);
    ASSERT_EQ(streamed->status, 200);
    EXPECT_EQ(streamed->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
    const std::vector<json> events = sse_events(streamed->body);
    ASSERT_GE(events.size(), 3u);
    const json& choice = body["choices"][0];
    EXPECT_EQ(streamed_text(events), choice.contains("text") ? choice["text"] : choice["message"]["content"]) << path;
    // The last chunk before the usage carries the finish reason; the usage chunk has no choices.
    EXPECT_EQ(events[events.size() - 2]["choices"][0]["finish_reason"], choice["finish_reason"]);
    EXPECT_EQ(events.back()["choices"], json::array());
    EXPECT_EQ(events.back()["usage"], body["usage"]);
    for (size_t i = 0; i + 2 < events.size(); ++i) EXPECT_TRUE(events[i]["choices"][0]["finish_reason"].is_null());
    if (std::string(path) == "/v1/chat/completions") {
      EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
      EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
    }
  }
}

// 32 streaming requests at once through 4 slots: each one's text equals the same
// request sent alone afterwards (a request's text depends only on its own seed).
TEST(Server, ConcurrentStreamsGiveTheTextsTheyGiveAlone) {
  ServerOptions options;
  options.parallel = 4;
  RunningServer s(options);
  const int n = 32;
  auto request = [](int i) {
    return json{{"prompt", i % 2 ? "And it came to pass" : "In the beginning God"},
                {"max_tokens", 12 + i % 5},
                {"seed", 100 + i},
                {"temperature", 0.8},
                {"stream", true}};
  };
  std::vector<std::future<std::string>> texts;
  for (int i = 0; i < n; ++i)
    texts.push_back(std::async(std::launch::async, [&, i] {
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = post(s, "/v1/completions", request(i));
      if (!r)
        return "failed: " + httplib::to_string(r.error()) + " after " +
               std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (r->status != 200) return "failed: status " + std::to_string(r->status) + " " + r->body;
      return streamed_text(sse_events(r->body));
    }));
  std::vector<std::string> under_load;
  for (auto& t : texts) under_load.push_back(t.get());
  for (int i = 0; i < n; ++i) {
    json alone = request(i);
    alone.erase("stream");
    const auto r = post(s, "/v1/completions", alone);
    ASSERT_TRUE(r);
    EXPECT_EQ(under_load[i], json::parse(r->body)["choices"][0]["text"]) << "request " << i;
  }
  EXPECT_EQ(metric(s, "tern_requests_total"), 2 * n);
}

// A client that goes away mid-stream frees its slot: the request ends long before its
// max_tokens and the next request runs.
TEST(Server, DisconnectMidStreamFreesTheSlot) {
  ServerOptions options;
  options.parallel = 1;
  RunningServer s(options);
  auto client = s.client();
  httplib::Request req =
      streaming_request("/v1/completions", {{"prompt", "And"}, {"max_tokens", 240}, {"stream", true}, {"seed", 1}});
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  httplib::Response res;
  httplib::Error error;
  client->send(req, res, error);  // returns once the receiver refused more
  client->stop();
  EXPECT_GE(chunks, 3);
  // The slot is free again: a new request completes, and the dropped one stopped early.
  const auto next = post(s, "/v1/completions", {{"prompt", "And"}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(metric(s, "tern_slots_busy"), 0);
  EXPECT_LT(metric(s, "tern_generated_tokens_total"), 240 + 4);
}

TEST(Server, BadRequestsGetOpenAiErrors) {
  ServerOptions options;
  options.max_body_bytes = 4096;
  RunningServer s(options);
  auto raw = [&](const std::string& path, const std::string& body) {
    return s.client()->Post(path.c_str(), body, "application/json");
  };
  expect_api_error(raw("/v1/completions", "{\"prompt\": "), 400);
  expect_api_error(raw("/v1/chat/completions", "not json"), 400);
  expect_api_error(raw("/v1/completions", "[]"), 400);
  expect_api_error(post(s, "/v1/completions", {{"prompt", 7}}), 400, "prompt");
  expect_api_error(post(s, "/v1/completions", {{"prompt", "a"}, {"temperature", "warm"}}), 400, "temperature");
  expect_api_error(post(s, "/v1/completions", {{"prompt", "a"}, {"max_tokens", -1}}), 400, "max_tokens");
  expect_api_error(post(s, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 100000}}), 400, "max_tokens");
  expect_api_error(post(s, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 2.5}}), 400, "max_tokens");
  expect_api_error(post(s, "/v1/completions", {{"prompt", "a"}, {"n", 2}}), 400, "n");
  expect_api_error(post(s, "/v1/chat/completions", {{"messages", "hi"}}), 400, "messages");
  expect_api_error(post(s, "/v1/completions", {{"prompt", "a"}, {"model", "gpt-4o"}}), 404, "model", "model_not_found");
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "And God said, ";
  expect_api_error(post(s, "/v1/completions", {{"prompt", long_prompt}}), 400, "prompt", "context_length_exceeded");
  expect_api_error(raw("/v1/completions", json{{"prompt", std::string(5000, 'a')}}.dump()), 413);
  expect_api_error(s.client()->Get("/v1/nothing"), 404);
  EXPECT_EQ(metric(s, "tern_slots_busy"), 0);
  // The server still answers.
  const auto ok = post(s, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 2}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// One slot, one queue place: with the slot busy, of five requests at once at most one
// waits and the others are refused with 503 and an OpenAI error object.
TEST(Server, FullQueueGives503) {
  ServerOptions options;
  options.parallel = 1;
  options.max_queue = 1;
  RunningServer s(options);
  const json long_request = {{"prompt", "And"}, {"max_tokens", 250}, {"temperature", 0}};
  auto running = std::async(std::launch::async, [&] { return post(s, "/v1/completions", long_request); });
  while (metric(s, "tern_slots_busy") < 1 && running.wait_for(0ms) != std::future_status::ready)
    std::this_thread::sleep_for(1ms);
  std::vector<std::future<int>> statuses;
  for (int i = 0; i < 5; ++i)
    statuses.push_back(std::async(std::launch::async, [&] {
      const auto r = post(s, "/v1/completions", {{"prompt", "And"}, {"max_tokens", 4}, {"temperature", 0}});
      if (r && r->status == 503) expect_api_error(r, 503, "", "queue_full");
      return r ? r->status : -1;
    }));
  int ok = 0, busy = 0;
  for (auto& f : statuses) {
    const int status = f.get();
    ok += status == 200;
    busy += status == 503;
  }
  const auto first = running.get();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(ok + busy, 5);
}

TEST(Server, ApiKeyIsRequiredExceptForHealth) {
  ServerOptions options;
  options.api_key = "sk-test-123";
  RunningServer s(options);
  const json body = {{"prompt", "a"}, {"max_tokens", 2}};
  expect_api_error(post(s, "/v1/completions", body), 401, "", "invalid_api_key");
  expect_api_error(post(s, "/v1/completions", body, {{"Authorization", "Bearer wrong"}}), 401);
  expect_api_error(s.client()->Get("/v1/models"), 401);
  const auto ok = post(s, "/v1/completions", body, {{"Authorization", "Bearer sk-test-123"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  const auto health = s.client()->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// shutdown() (what SIGTERM calls) lets a stream in flight finish with [DONE] and
// refuses what comes after.
TEST(Server, ShutdownDrainsStreamsInFlight) {
  ServerOptions options;
  options.parallel = 2;
  RunningServer s(options);
  const auto client = s.client();
  std::atomic<bool> first_chunk{false};
  std::string body;
  auto in_flight = std::async(std::launch::async, [&] {
    httplib::Request req =
        streaming_request("/v1/completions", {{"prompt", "And"}, {"max_tokens", 60}, {"stream", true}, {"seed", 5}});
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      body.append(data, n);
      first_chunk = true;
      return true;
    };
    httplib::Response res;
    httplib::Error error;
    return client->send(req, res, error) ? res.status : -1;
  });
  while (!first_chunk) std::this_thread::sleep_for(5ms);
  std::thread stopper([&] { s.server().shutdown(); });  // ~RunningServer's shutdown is then a no-op
  std::this_thread::sleep_for(20ms);
  httplib::Client late("127.0.0.1", s.port());
  late.set_connection_timeout(2, 0);
  const auto refused = late.Post("/v1/completions", json{{"prompt", "a"}}.dump(), "application/json");
  if (refused) {
    EXPECT_EQ(refused->status, 503);  // or no connection at all, once stopped
  }
  EXPECT_EQ(in_flight.get(), 200);
  stopper.join();
  const std::vector<json> events = sse_events(body);
  ASSERT_FALSE(events.empty());
  EXPECT_FALSE(events.back()["choices"][0]["finish_reason"].is_null());
}

// The CLI: `tern serve --port 0` prints its address; SIGTERM exits 0 after answering.
TEST(ServeCli, ServesAndExitsCleanlyOnSigterm) {
  const std::string log = std::filesystem::path(TERN_BINARY_DIR) / ("serve-cli-" + std::to_string(::getpid()) + ".log");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::execl(TERN_CLI_PATH, TERN_CLI_PATH, "serve", "-m", shipped_model_path().c_str(), "--port", "0", "-t", "2",
            nullptr);
    ::_exit(127);
  }
  int port = 0;
  for (int i = 0; i < 600 && port == 0; ++i) {  // up to a minute on a busy machine
    std::this_thread::sleep_for(100ms);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    const size_t at = text.find("http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(text.c_str() + at + 17);
  }
  ASSERT_GT(port, 0) << "no address printed";
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const auto r = client.Post("/v1/completions", json{{"prompt", "In the beginning"}, {"max_tokens", 4}}.dump(),
                             "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace tern
