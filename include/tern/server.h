#pragma once
// The OpenAI API over HTTP with continuous batching: what `tern serve` runs (the
// tern::server library, built on cpp-httplib).
//   POST /v1/completions, POST /v1/chat/completions (JSON, or server-sent events with
//   "stream": true), GET /v1/models, GET /health, GET /metrics (Prometheus text).
// Concurrent requests decode together, one batched product per step (BatchRunner, as
// `tern batch`); a request's text depends only on its own parameters and seed.
//
//   tern::ServerOptions options;
//   options.port = 0;  // any free port
//   tern::Server server(model, options);
//   std::thread serving([&] { server.serve(); });
//   ... clients talk to 127.0.0.1:server.port() ...
//   server.shutdown();  // drains what was accepted
//   serving.join();
//
// Bad requests get a 4xx with an OpenAI error object. Everything a client can make the
// server hold is bounded: request bodies (413), requests waiting for a slot (503),
// connections served at once and connections waiting for a thread (503, then closed).
// A client that goes away, streaming or not, frees its slot within a decode step or so.
// With an API key, everything but /health needs "Authorization: Bearer KEY".
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tern/kv_type.h"
#include "tern/model.h"

namespace tern {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;       // 0: any free port (see Server::port())
  int parallel = 4;      // slots: requests decoded at once
  int64_t n_ctx = 2048;  // context of a slot: prompt + max_tokens
  KvType kv_type = KvType::F32;
  std::string api_key;              // "": no authentication
  size_t max_queue = 64;            // requests waiting for a slot; more get 503
  size_t max_body_bytes = 1 << 20;  // larger bodies get 413
  // Connections served at once (HTTP threads; each holds one while its answer is made).
  // 0: parallel + max_queue + 8, so every request a slot or the queue can take has one.
  size_t max_connections = 0;
  // Accepted connections waiting for a free HTTP thread; past that a connection is
  // answered 503 at once and closed.
  size_t max_pending_connections = 64;
};

class Server {
 public:
  // Binds the address (throws tern::Error when it cannot) and starts the generation
  // engine. `model` must outlive the server.
  Server(const Model& model, ServerOptions options);
  ~Server();  // shutdown(), if serve() has not ended
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const;
  // The model's name in the API ("model" fields, /v1/models): its file name without extension.
  const std::string& model_id() const;
  // Answers requests until shutdown() has drained; blocks the calling thread.
  void serve();
  // Refuses new requests (503), lets accepted ones finish, then ends serve(). Any thread.
  void shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern
