// `tern serve`: the OpenAI API over HTTP with continuous batching (src/serving).
// SIGINT/SIGTERM: refuse new requests, finish the accepted ones, exit 0.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "commands.h"
#include "common.h"
#include "tern/model.h"
#include "tern/server.h"

namespace tern::cli {
namespace {

struct ServeOptions {
  std::string model;
  ServerOptions server;
  int64_t n_ctx = 0;  // 0: min(model's context, 2048)
  int32_t threads = 0;
  LogOptions log;
};

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

int run_serve(ServeOptions o) {
  apply_log_options(o.log);
  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  o.server.n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(model.config().context_length, 2048);
  if (!is_loopback(o.server.host) && o.server.api_key.empty())
    spdlog::warn("serving on {} without --api-key: anyone who can reach it can use it", o.server.host);
  // A client that disconnects must make a write fail, not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  Server server(model, o.server);
  fmt::print(stderr, "tern: serving {} at http://{}:{}/v1 ({} slots of {} tokens, kernels {}, {} threads)\n",
             server.model_id(), o.server.host, server.port(), o.server.parallel, o.server.n_ctx, model.isa(),
             model.threads());
  const SignalCounter signals({SIGINT, SIGTERM});
  std::atomic<bool> served{false};
  std::thread watcher([&] {
    while (SignalCounter::received() == 0 && !served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!served) fmt::print(stderr, "tern: stopping: finishing the requests in flight\n");
    server.shutdown();
  });
  server.serve();
  served = true;
  watcher.join();
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& parent) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* app = parent.add_subcommand("serve", "Serve the OpenAI API (completions, chat, streaming) over HTTP");
  app->add_option("-m,--model", o->model, "Model file (GGUF); default: the model shipped in models/");
  app->add_option("--host", o->server.host, "Address to listen on (default 127.0.0.1: this machine only)");
  app->add_option("--port", o->server.port, "Port (0: any free port, printed at start)")->check(CLI::Range(0, 65535));
  app->add_option("--parallel", o->server.parallel, "Requests decoded at once (slots)")->check(CLI::Range(1, 1024));
  app->add_option("--max-queue", o->server.max_queue, "Requests waiting for a slot at most; more get 503")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app->add_option("--max-connections", o->server.max_connections,
                  "Connections served at once (0: parallel + max-queue + 8)")
      ->check(CLI::Range(size_t{0}, size_t{1} << 16));
  app->add_option("--max-pending-connections", o->server.max_pending_connections,
                  "Connections waiting for one of those at most; more get 503 and are closed")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20));
  app->add_option("--api-key", o->server.api_key, "Require 'Authorization: Bearer KEY' (all but /health)");
  app->add_option("-c,--ctx-size", o->n_ctx,
                  "Context per request: prompt + max_tokens (default: the model's, at most 2048)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  add_kv_type_option(*app, o->server.kv_type);
  add_log_options(*app, o->log);
  return {app, [o] { return run_serve(*o); }};
}

}  // namespace tern::cli
