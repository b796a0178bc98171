#include "tern/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "serving/connection_queue.h"
#include "serving/connection_socket.h"
#include "serving/engine.h"
#include "serving/openai_api.h"
#include "tern/error.h"

namespace tern {

// Debian's cpp-httplib is built to listen with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG):
// a burst of clients overflows it, and the connections that overflow stall for a SYN
// retransmit and then fail. listen() again on the bound socket raises it (Linux).
class HttpServer : public httplib::Server {
 public:
  void widen_backlog(int backlog) { ::listen(svr_sock_, backlog); }
};

class Server::Impl {
 public:
  Impl(const Model& model, ServerOptions options);
  ~Impl();

  void serve() { http_->listen_after_bind(); }
  void shutdown();
  int port() const { return port_; }
  const std::string& model_id() const { return model_id_; }

 private:
  void route();
  bool authorized(const httplib::Request& req, httplib::Response& res) const;
  void complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
  BatchResult await_result(Job& job, const httplib::Request& req);
  void refuse_connection(const httplib::Request& req, httplib::Response& res);
  void stream(Endpoint endpoint, const ApiRequest& request, const std::shared_ptr<Job>& job, httplib::Response& res);
  void metrics(httplib::Response& res) const;
  void fail_request(httplib::Response& res, const ApiError& error);
  uint64_t random_seed();

  const Model& model_;
  const ServerOptions options_;
  std::string model_id_;
  int port_ = 0;
  ChatTemplate chat_template_;  // the model's, for chat completions
  int64_t created_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Engine> engine_;
  std::atomic<int64_t> requests_{0};             // completion requests received
  std::atomic<int64_t> requests_failed_{0};      // answered with a 4xx or 5xx
  std::atomic<int64_t> connections_refused_{0};  // answered 503 past the connection bounds
  std::atomic<int64_t> responses_open_{0};       // accepted, answer not complete yet
  std::atomic<int64_t> next_response_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex seed_mutex_;
  std::mt19937_64 seeds_;  // seeds for requests that give none
};

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

std::string server_event(const ordered_json& j) { return "data: " + dump(j) + "\n\n"; }

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ConnectionAddresses addresses_of(const httplib::Request& req) {
  return {req.local_addr, req.local_port, req.remote_addr, req.remote_port};
}

// The generic message for statuses httplib sets itself (no route, body too large).
ApiError status_error(int status) {
  if (status == 404) return ApiError(404, "no such endpoint", "", "not_found");
  if (status == 413) return ApiError(413, "the request body is too large", "", "payload_too_large");
  return ApiError(status, fmt::format("HTTP status {}", status));
}

}  // namespace

Server::Server(const Model& model, ServerOptions options) : impl_(std::make_unique<Impl>(model, std::move(options))) {}
Server::~Server() = default;
int Server::port() const { return impl_->port(); }
const std::string& Server::model_id() const { return impl_->model_id(); }
void Server::serve() { impl_->serve(); }
void Server::shutdown() { impl_->shutdown(); }

Server::Impl::Impl(const Model& model, ServerOptions options)
    : model_(model),
      options_(std::move(options)),
      chat_template_(model_chat_template(model.tokenizer())),
      created_(unix_seconds()),
      http_(std::make_unique<HttpServer>()),
      seeds_(std::random_device{}()) {
  model_id_ = model_.path().stem().string();
  // Every connection holds an HTTP thread while it waits for its answer.
  const size_t threads = options_.max_connections > 0 ? options_.max_connections
                                                      : static_cast<size_t>(options_.parallel) + options_.max_queue + 8;
  const size_t max_pending = options_.max_pending_connections;
  http_->new_task_queue = [threads, max_pending] { return new BoundedTaskQueue(threads, max_pending); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_read_timeout(30);
  http_->set_write_timeout(30);
  route();
  port_ = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                             : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port_ <= 0) fail("cannot listen on {}:{} (address in use or not local?)", options_.host, options_.port);
  http_->widen_backlog(static_cast<int>(threads + max_pending));
  engine_ = std::make_unique<Engine>(model_, options_.parallel, options_.n_ctx, options_.kv_type, options_.max_queue);
}

Server::Impl::~Impl() {
  shutdown();
  engine_.reset();
}

void Server::Impl::shutdown() {
  if (shutting_down_.exchange(true)) return;
  engine_->drain();
  engine_->wait_drained();
  // The engine finished every job; let the HTTP threads write the last answers.
  while (responses_open_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  http_->stop();
}

uint64_t Server::Impl::random_seed() {
  const std::lock_guard lock(seed_mutex_);
  return seeds_();
}

void Server::Impl::fail_request(httplib::Response& res, const ApiError& error) {
  ++requests_failed_;
  res.status = error.status;
  res.set_content(dump(error_body(error)), "application/json");
}

bool Server::Impl::authorized(const httplib::Request& req, httplib::Response& res) const {
  if (options_.api_key.empty() || req.path == "/health") return true;
  if (req.get_header_value("Authorization") == "Bearer " + options_.api_key) return true;
  res.status = 401;
  res.set_content(
      dump(error_body(ApiError(401, "a valid API key is needed (Authorization: Bearer KEY)", "", "invalid_api_key"))),
      "application/json");
  return false;
}

void Server::Impl::route() {
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (BoundedTaskQueue::over_capacity()) {  // past max_connections + max_pending_connections
      refuse_connection(req, res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                : httplib::Server::HandlerResponse::Handled;
  });
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() || res.has_header("Content-Type")) return httplib::Server::HandlerResponse::Unhandled;
    res.set_content(dump(error_body(status_error(res.status))), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    complete(Endpoint::Completions, req, res);
  });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    complete(Endpoint::ChatCompletions, req, res);
  });
  http_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const ordered_json model{{"id", model_id_}, {"object", "model"}, {"created", created_}, {"owned_by", "tern"}};
    res.set_content(dump(ordered_json{{"object", "list"}, {"data", ordered_json::array({model})}}), "application/json");
  });
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (shutting_down_) res.status = 503;
    res.set_content(dump(ordered_json{{"status", shutting_down_ ? "shutting down" : "ok"}}), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
}

void Server::Impl::complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
  ++requests_;
  try {
    if (shutting_down_) throw ApiError(503, "the server is shutting down", "", "shutting_down", "server_error");
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
    const ApiRequest request = parse_api_request(endpoint, body, model_.tokenizer(),
                                                 RequestDefaults{random_seed(), options_.n_ctx, chat_template_});
    if (!request.model.empty() && request.model != model_id_)
      throw ApiError(404, fmt::format("the model '{}' does not exist; this server has '{}'", request.model, model_id_),
                     "model", "model_not_found");
    auto job = std::make_shared<Job>(request.generation);
    ++responses_open_;
    if (!engine_->submit(job)) {
      --responses_open_;
      throw ApiError(503,
                     shutting_down_
                         ? "the server is shutting down"
                         : fmt::format("the server is busy ({} requests queued); retry later", options_.max_queue),
                     "", "queue_full", "server_error");
    }
    if (request.stream) return stream(endpoint, request, job, res);
    const BatchResult result = await_result(*job, req);
    --responses_open_;
    if (!result.error.empty()) throw ApiError(400, result.error);
    const ResponseMeta meta{response_id(endpoint, std::to_string(next_response_++)), unix_seconds(), model_id_};
    res.set_content(dump(response_body(endpoint, meta, result)), "application/json");
  } catch (const ApiError& e) {
    fail_request(res, e);
  } catch (const Error& e) {
    fail_request(res, ApiError(400, e.what()));
  }
}

// Answers a connection past the bounds 503 and ends it: httplib would keep it open for
// more requests, so once the answer is written the socket reads nothing more, and
// httplib, seeing the end of the stream, closes it.
void Server::Impl::refuse_connection(const httplib::Request& req, httplib::Response& res) {
  ++connections_refused_;
  res.status = 503;
  res.set_header("Connection", "close");
  auto body = std::make_shared<const std::string>(dump(error_body(
      ApiError(503, "the server has too many connections; retry later", "", "too_many_connections", "server_error"))));
  const auto socket = ConnectionSocket::find(addresses_of(req));
  res.set_content_provider(
      body->size(), "application/json",
      [body](size_t offset, size_t length, httplib::DataSink& sink) {
        return sink.write(body->data() + offset, length);
      },
      [socket](bool) {
        if (socket) socket->stop_reading();
      });
}

// Waits for a non-streaming answer; a client that goes away meanwhile cancels its job,
// which frees the slot at the engine's next step.
BatchResult Server::Impl::await_result(Job& job, const httplib::Request& req) {
  const auto peer = ConnectionSocket::find(addresses_of(req));
  for (;;) {
    if (auto result = job.wait_result(std::chrono::milliseconds(20))) return *result;
    if (peer && !job.cancelled() && peer->peer_gone()) job.cancel();
  }
}

void Server::Impl::stream(Endpoint endpoint, const ApiRequest& request, const std::shared_ptr<Job>& job,
                          httplib::Response& res) {
  const ResponseMeta meta{response_id(endpoint, std::to_string(next_response_++)), unix_seconds(), model_id_};
  const bool include_usage = request.include_usage;
  auto first = std::make_shared<bool>(true);
  res.set_header("Cache-Control", "no-cache");
  auto provider = [job, endpoint, meta, include_usage, first](size_t, httplib::DataSink& sink) {
    auto send = [&](const std::string& event) {
      if (sink.write(event.data(), event.size())) return true;
      job->cancel();  // the client went away: free its slot
      return false;
    };
    auto [text, result] = job->wait(std::chrono::milliseconds(100));
    if (endpoint == Endpoint::ChatCompletions && *first) {  // a chat stream opens with the role
      if (!send(server_event(stream_chunk(endpoint, meta, "", std::nullopt, true)))) return false;
      *first = false;
    }
    if (!text.empty() && !send(server_event(stream_chunk(endpoint, meta, text, std::nullopt, false)))) return false;
    if (!result) return true;
    if (!result->error.empty()) {
      if (!send(server_event(error_body(ApiError(400, result->error))))) return false;
    } else {
      if (!send(server_event(stream_chunk(endpoint, meta, "", result->finish, false)))) return false;
      if (include_usage && !send(server_event(usage_chunk(endpoint, meta, *result)))) return false;
    }
    if (!send("data: [DONE]\n\n")) return false;
    sink.done();
    return true;
  };
  res.set_chunked_content_provider("text/event-stream", provider, [this, job](bool success) {
    if (!success) job->cancel();
    --responses_open_;
  });
}

void Server::Impl::metrics(httplib::Response& res) const {
  const EngineMetrics m = engine_->metrics();
  std::string text;
  auto add = [&](const char* name, const char* type, const char* help, auto value) {
    text += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  add("tern_requests_total", "counter", "Completion requests received.", requests_.load());
  add("tern_requests_failed_total", "counter", "Completion requests answered with an error status.",
      requests_failed_.load());
  add("tern_requests_finished_total", "counter", "Requests the engine finished generating.", m.requests_finished);
  add("tern_prompt_tokens_total", "counter", "Prompt tokens of finished requests.", m.prompt_tokens);
  add("tern_generated_tokens_total", "counter", "Tokens generated by finished requests.", m.generated_tokens);
  add("tern_busy_seconds_total", "counter", "Seconds the engine was not waiting for requests.", m.busy_seconds);
  add("tern_tokens_per_second", "gauge", "Generated tokens per busy second, over the server's life.",
      m.busy_seconds > 0 ? static_cast<double>(m.generated_tokens) / m.busy_seconds : 0.0);
  add("tern_connections_refused_total", "counter", "Connections answered 503 past the connection bounds.",
      connections_refused_.load());
  add("tern_queue_depth", "gauge", "Requests waiting for a slot.", m.queue_depth);
  add("tern_slots_busy", "gauge", "Slots generating now.", m.slots_busy);
  add("tern_slots_total", "gauge", "Slots (--parallel).", m.slots_total);
  res.set_content(text, "text/plain; version=0.0.4");
}

}  // namespace tern
