#pragma once
// `tern serve`: the OpenAI API over HTTP (cpp-httplib), answering from one Engine.
//   POST /v1/completions, POST /v1/chat/completions (JSON or server-sent events),
//   GET /v1/models, GET /health, GET /metrics (Prometheus text).
// Bad requests get a 4xx with an OpenAI error object; a full queue or a draining
// server a 503; with an API key, everything but /health needs "Authorization: Bearer".
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "serving/engine.h"
#include "serving/openai_api.h"

namespace httplib {
class Server;
class Request;
class Response;
}  // namespace httplib

namespace tern {

class HttpServer;  // httplib::Server with a wider listen backlog

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Server::port())
  int parallel = 4;
  int64_t n_ctx = 2048;
  KvType kv_type = KvType::F32;
  std::string api_key;                 // "" : no authentication
  size_t max_queue = 64;               // requests waiting for a slot; more get 503
  size_t max_body_bytes = 1 << 20;     // larger bodies get 413
};

class Server {
 public:
  // Binds the address (throws tern::Error when it cannot) and starts the engine.
  Server(const Model& model, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  const std::string& model_id() const { return model_id_; }
  // Answers requests until shutdown() has drained; blocks.
  void serve();
  // Refuses new requests (503), lets accepted ones finish, then ends serve(). Any thread.
  void shutdown();

 private:
  void route();
  bool authorized(const httplib::Request& req, httplib::Response& res) const;
  void complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
  void stream(Endpoint endpoint, const ApiRequest& request, const std::shared_ptr<Job>& job, httplib::Response& res);
  void metrics(httplib::Response& res) const;
  void fail_request(httplib::Response& res, const ApiError& error);
  uint64_t random_seed();

  const Model& model_;
  const ServerOptions options_;
  std::string model_id_;
  ChatTemplate chat_template_;  // the model's, for chat completions
  int64_t created_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Engine> engine_;
  int port_ = 0;
  std::atomic<int64_t> requests_{0};         // completion requests received
  std::atomic<int64_t> requests_failed_{0};  // answered with a 4xx or 5xx
  std::atomic<int64_t> responses_open_{0};   // accepted, answer not complete yet
  std::atomic<int64_t> next_response_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex seed_mutex_;
  std::mt19937_64 seeds_;  // seeds for requests that give none
};

}  // namespace tern
