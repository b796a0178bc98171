// What a client can make `tern serve` hold is bounded and given back: a non-streaming
// client that goes away frees its slot long before max_tokens, and connections past
// max_connections + max_pending_connections are answered 503 at once and closed.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

#include "server_support.h"
#include "tern/server.h"

namespace tern {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::eventually;
using testing::http_post;
using testing::metric;
using testing::post;
using testing::RawConnection;
using testing::RunningServer;

// Sent whole, the request below generates this many tokens (no EOS before max_tokens
// at temperature 0 from "And"); see RunsToMaxTokensWhenNobodyLeaves.
const json kLongRequest = {{"prompt", "And"}, {"max_tokens", 240}, {"temperature", 0}};

TEST(ServerLimits, LongRequestRunsToMaxTokensWhenNobodyLeaves) {
  ServerOptions options;
  options.parallel = 1;
  RunningServer s(options);
  const auto r = post(s, "/v1/completions", kLongRequest);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["usage"]["completion_tokens"], 240);
  EXPECT_EQ(metric(s, "tern_generated_tokens_total"), 240);
}

// The client sends a non-streaming request and closes its socket while the answer is
// being generated: the slot is free again long before 240 tokens, and the next request
// runs at once.
TEST(ServerLimits, NonStreamingDisconnectFreesTheSlot) {
  ServerOptions options;
  options.parallel = 1;
  RunningServer s(options);
  {
    RawConnection client(s.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send(http_post("/v1/completions", kLongRequest)));
    ASSERT_TRUE(eventually([&] { return metric(s, "tern_slots_busy") == 1; }, 30s));
  }  // closed mid-generation
  ASSERT_TRUE(eventually([&] { return metric(s, "tern_requests_finished_total") == 1; }, 30s));
  EXPECT_EQ(metric(s, "tern_slots_busy"), 0);
  EXPECT_LT(metric(s, "tern_generated_tokens_total"), 240);
  const auto next = post(s, "/v1/completions", {{"prompt", "And"}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

// Two HTTP threads and one waiting place: with three idle connections holding them, a
// fourth connection is answered 503 (an OpenAI error object) at once and closed; once
// the idle ones leave, requests are served again.
TEST(ServerLimits, ConnectionsPastTheBoundsGet503AndAreClosed) {
  ServerOptions options;
  options.parallel = 1;
  options.max_queue = 1;
  options.max_connections = 2;
  options.max_pending_connections = 1;
  RunningServer s(options);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>(s.port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  std::this_thread::sleep_for(300ms);  // accepted: two served (waiting for a request), one pending

  RawConnection extra(s.port());
  ASSERT_TRUE(extra.connected());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(extra.send(http_post("/v1/completions", {{"prompt", "a"}, {"max_tokens", 2}})));
  bool closed = false;
  const std::string reply = extra.read_until_closed(4s, closed);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"too_many_connections\""), std::string::npos) << reply;
  EXPECT_TRUE(closed) << "the refused connection was left open";
  EXPECT_LT(took, 2s);

  idle.clear();  // the server notices within milliseconds; until then it may refuse
  ASSERT_TRUE(eventually(
      [&] {
        const auto health = s.client()->Get("/health");
        return health && health->status == 200;
      },
      10s));
  const auto ok = post(s, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 2}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_GE(metric(s, "tern_connections_refused_total"), 1);
}

}  // namespace
}  // namespace tern
