// `tern bench-serve`: N concurrent streaming clients against `tern serve` (a running one
// with --port, or one started in this process on a free loopback port), printing
// requests/s, tokens/s and p50/p99 time to first token and per output token.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "commands.h"
#include "common.h"
#include "tern/load_test.h"
#include "tern/model.h"
#include "tern/server.h"

namespace tern::cli {
namespace {

struct BenchServeOptions {
  std::string model;
  int port = 0;  // 0: start a server here
  int parallel = 8;
  int32_t threads = 0;
  LoadTestOptions load;
  LogOptions log;
};

void print_report(const LoadTestOptions& o, const LoadTestReport& r, const std::string& server) {
  fmt::print("server      {}\n", server);
  fmt::print("load        {} requests, {} concurrent clients, max_tokens {}, temperature {}\n", o.requests, o.clients,
             o.max_tokens, o.temperature);
  fmt::print("completed   {} ok, {} failed in {:.2f} s{}\n", r.ok, r.failed, r.seconds,
             r.first_error.empty() ? "" : " (first failure: " + r.first_error + ")");
  fmt::print("requests/s  {:.2f}\n", r.seconds > 0 ? r.ok / r.seconds : 0);
  fmt::print("tokens/s    {:.1f}  ({} completion tokens)\n",
             r.seconds > 0 ? static_cast<double>(r.tokens) / r.seconds : 0, r.tokens);
  fmt::print("TTFT ms     p50 {:.1f}  p99 {:.1f}\n", quantile(r.ttft_ms, 0.5), quantile(r.ttft_ms, 0.99));
  fmt::print("TPOT ms     p50 {:.2f}  p99 {:.2f}\n", quantile(r.tpot_ms, 0.5), quantile(r.tpot_ms, 0.99));
}

int run_bench_serve(BenchServeOptions o) {
  apply_log_options(o.log);
  std::signal(SIGPIPE, SIG_IGN);
  if (o.port != 0) {
    o.load.port = o.port;
    const LoadTestReport r = run_load_test(o.load);
    print_report(o.load, r, fmt::format("http://{}:{}", o.load.host, o.port));
    return r.failed == 0 ? 0 : 1;
  }
  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  ServerOptions server_options;
  server_options.port = 0;
  server_options.parallel = o.parallel;
  server_options.n_ctx = std::min<int64_t>(model.config().context_length, 2048);
  server_options.max_queue = static_cast<size_t>(o.load.clients) + 1;
  Server server(model, server_options);
  std::thread serving([&] { server.serve(); });
  o.load.host = "127.0.0.1";
  o.load.port = server.port();
  const LoadTestReport r = run_load_test(o.load);
  server.shutdown();
  serving.join();
  print_report(o.load, r,
               fmt::format("in-process {} --parallel {}, kernels {}, {} threads", server.model_id(), o.parallel,
                           model.isa(), model.threads()));
  return r.failed == 0 ? 0 : 1;
}

}  // namespace

Command add_bench_serve_command(CLI::App& parent) {
  auto o = std::make_shared<BenchServeOptions>();
  CLI::App* app = parent.add_subcommand("bench-serve", "Load-test the OpenAI server with concurrent streaming clients");
  app->add_option("-m,--model", o->model, "Model for an in-process server (without --port); default: models/");
  app->add_option("--port", o->port, "Test a running server on --host:PORT instead")->check(CLI::Range(0, 65535));
  app->add_option("--host", o->load.host, "Host of the running server (default 127.0.0.1)");
  app->add_option("--api-key", o->load.api_key, "Bearer key of the running server");
  app->add_option("--parallel", o->parallel, "Slots of the in-process server")->check(CLI::Range(1, 1024));
  app->add_option("-t,--threads", o->threads, "Threads of the in-process server")->check(CLI::Range(0, 1024));
  app->add_option("--clients", o->load.clients, "Concurrent clients")->check(CLI::Range(1, 1024));
  app->add_option("--requests", o->load.requests, "Requests in all")->check(CLI::Range(1, 1 << 20));
  app->add_option("--max-tokens", o->load.max_tokens, "max_tokens of every request")->check(CLI::Range(1, 1 << 20));
  app->add_option("--temp", o->load.temperature, "temperature of every request")->check(CLI::Range(0.0, 2.0));
  add_log_options(*app, o->log);
  return {app, [o] { return run_bench_serve(*o); }};
}

}  // namespace tern::cli
