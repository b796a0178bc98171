#pragma once
// Load-testing an OpenAI-compatible server (the tern::tools library, beside tern/bench.h;
// what `tern bench-serve` runs): concurrent streaming clients, each sending its requests
// one after another, and what users feel: requests/s, generated tokens/s, time to first
// token (TTFT) and time per output token after the first (TPOT), as p50/p99 over requests.
// Every request is /v1/completions with "stream": true and usage; the traffic is bounded
// by `requests` and each request by `timeout_seconds`.
#include <cstdint>
#include <string>
#include <vector>

namespace tern {

struct LoadTestOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  int clients = 8;      // requests in flight at once
  int requests = 64;    // in all
  int max_tokens = 32;  // per request
  double temperature = 0.8;
  double timeout_seconds = 300;  // per request
};

struct LoadTestReport {
  int ok = 0;
  int failed = 0;
  double seconds = 0;
  int64_t tokens = 0;           // completion tokens, from the streams' usage
  std::vector<double> ttft_ms;  // per successful request
  std::vector<double> tpot_ms;  // per successful request with 2+ tokens
  std::string first_error;      // what the first failure was
};

// Runs the whole load and returns when every request has ended (never throws: a request
// that fails is counted and the first failure described).
LoadTestReport run_load_test(const LoadTestOptions& options);

// The q-quantile (0..1) of values, by the nearest-rank method; 0 when empty.
double quantile(std::vector<double> values, double q);

}  // namespace tern
