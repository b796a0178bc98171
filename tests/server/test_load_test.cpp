// The server load test (tern/load_test.h, `tern bench-serve`): every request is counted,
// its tokens agree with what the server says it generated, failures are reported, and
// quantiles follow the nearest-rank definition.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "server_support.h"
#include "tern/load_test.h"

namespace tern {
namespace {

using testing::metric;
using testing::RunningServer;

TEST(LoadTest, CountsEveryRequestAndTheTokensTheServerGenerated) {
  ServerOptions server;
  server.parallel = 2;
  RunningServer s(server);
  LoadTestOptions o;
  o.port = s.port();
  o.clients = 3;
  o.requests = 7;
  o.max_tokens = 5;
  o.timeout_seconds = 60;
  const LoadTestReport r = run_load_test(o);
  EXPECT_EQ(r.ok, 7) << r.first_error;
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.ttft_ms.size(), 7u);
  EXPECT_GT(r.seconds, 0);
  EXPECT_EQ(static_cast<double>(r.tokens), metric(s, "tern_generated_tokens_total"));
  EXPECT_EQ(metric(s, "tern_requests_total"), 7);
  for (double t : r.ttft_ms) EXPECT_GT(t, 0);
}

TEST(LoadTest, ReportsAServerThatIsNotThere) {
  // A port nothing listens on: bound, then closed.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  LoadTestOptions o;
  o.port = ntohs(address.sin_port);
  o.clients = 2;
  o.requests = 3;
  const LoadTestReport r = run_load_test(o);
  EXPECT_EQ(r.ok, 0);
  EXPECT_EQ(r.failed, 3);
  EXPECT_FALSE(r.first_error.empty());
}

// The nearest-rank percentiles of {15, 20, 35, 40, 50}: 5th 15, 30th 20, 40th 20, 50th
// 35, 100th 50 (the textbook example of the method).
TEST(LoadTest, QuantilesAreNearestRank) {
  const std::vector<double> v = {50, 15, 40, 20, 35};
  EXPECT_EQ(quantile(v, 0.05), 15);
  EXPECT_EQ(quantile(v, 0.30), 20);
  EXPECT_EQ(quantile(v, 0.40), 20);
  EXPECT_EQ(quantile(v, 0.50), 35);
  EXPECT_EQ(quantile(v, 1.00), 50);
  EXPECT_EQ(quantile({}, 0.5), 0);
}

}  // namespace
}  // namespace tern
