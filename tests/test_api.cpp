// The public API as another program uses it (include/tern only): two Contexts of one
// Model running at the same time on two threads, and BatchRunner's multi-sequence
// decoding. The expectations come from llama2.c (stories260K's reference
// implementation): "Once upon a time" at temperature 0 continues with the text below,
// and the other prompts must give the same text run alone, run concurrently, and run in
// a batch.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "shared_data.h"
#include "tern/batch.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"

namespace tern::testing {
namespace {

constexpr const char* kModel = "models/stories260K.gguf";
// llama2.c, stories260K, "Once upon a time", temperature 0: what follows the prompt.
constexpr const char* kReferenceContinuation =
    ", there was a little girl named Lily. She loved to play outside in the park.";
const std::vector<std::string> kPrompts = {"Once upon a time", "Lily and Ben", "The sun", ""};

SamplerParams greedy() {
  SamplerParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 1.0f;  // llama2.c has none
  return p;
}

GenerationParams predict(int32_t n) {
  GenerationParams g;
  g.n_predict = n;
  return g;
}

// One prompt run alone on its own context of `threads` threads.
std::string generate_alone(const Model& model, const std::string& prompt, int threads) {
  ContextParams params;
  params.n_ctx = 128;
  params.threads = threads;
  Context context(model, params);
  Generator generator(context, greedy());
  return generator.generate(prompt, predict(24), {}).text;
}

TEST(PublicApi, TwoContextsOfOneModelRunAtTheSameTime) {
  TERN_REQUIRE_SHARED(path, kModel);
  const Model model = Model::load(path);
  const std::string alone_a = generate_alone(model, kPrompts[0], 2);
  const std::string alone_b = generate_alone(model, kPrompts[1], 2);
  ASSERT_EQ(std::string(kReferenceContinuation).rfind(alone_a, 0), 0u) << alone_a;
  ASSERT_FALSE(alone_b.empty());
  // Each context has its own two-thread pool: four threads run the two sequences at once,
  // many times over so that their passes overlap.
  for (int round = 0; round < 5; ++round) {
    std::string together_a, together_b;
    std::thread other([&] { together_b = generate_alone(model, kPrompts[1], 2); });
    together_a = generate_alone(model, kPrompts[0], 2);
    other.join();
    EXPECT_EQ(together_a, alone_a) << "round " << round;
    EXPECT_EQ(together_b, alone_b) << "round " << round;
  }
}

TEST(PublicApi, ContextThreadsAreItsOwn) {
  TERN_REQUIRE_SHARED(path, kModel);
  LoadOptions load;
  load.threads = 3;
  const Model model = Model::load(path, load);
  EXPECT_EQ(model.threads(), 3);
  EXPECT_EQ(Context(model, 16).threads(), 3);  // the model's default
  ContextParams params;
  params.n_ctx = 16;
  params.threads = 1;
  EXPECT_EQ(Context(model, params).threads(), 1);
  params.threads = -1;
  EXPECT_THROW(Context(model, params), Error);
}

TEST(PublicApi, BatchedSequencesGiveWhatEachGivesAlone) {
  TERN_REQUIRE_SHARED(path, kModel);
  const Model model = Model::load(path);
  std::map<uint64_t, std::string> alone;
  for (size_t i = 0; i < kPrompts.size(); ++i) alone[i] = generate_alone(model, kPrompts[i], 1);

  BatchParams params;
  params.parallel = 3;  // fewer slots than prompts: one waits for a free slot
  params.n_ctx = 128;
  params.threads = 2;
  BatchRunner runner(model, params);
  std::map<uint64_t, std::string> streamed, text;
  size_t next = 0;
  auto record = [&](const SequenceResult& r) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.generation.finish, FinishReason::Length);
    EXPECT_EQ(r.generation.timings.n_generated, 24);
    text[r.id] = r.generation.text;
  };
  while (next < kPrompts.size() || runner.live() > 0) {
    while (runner.free_slots() > 0 && next < kPrompts.size()) {
      SequenceRequest request;
      request.id = next;
      request.prompt = kPrompts[next];
      request.generation = predict(24);
      request.sampling = greedy();
      request.on_text = [&streamed, id = next](std::string_view piece) {
        streamed[id] += piece;
        return true;
      };
      ++next;
      if (auto ended = runner.add(std::move(request))) record(*ended);
    }
    for (const SequenceResult& r : runner.step()) record(r);
  }
  EXPECT_EQ(text, alone);
  EXPECT_EQ(streamed, alone);
  EXPECT_EQ(std::string(kReferenceContinuation).rfind(text[0], 0), 0u) << text[0];
  EXPECT_EQ(runner.stats().generated_tokens, 24 * static_cast<int64_t>(kPrompts.size()));
}

TEST(PublicApi, BatchRejectsWhatCannotRun) {
  TERN_REQUIRE_SHARED(path, kModel);
  const Model model = Model::load(path);
  BatchParams params;
  params.parallel = 1;
  params.n_ctx = 4;
  BatchRunner runner(model, params);
  SequenceRequest too_long;
  too_long.id = 7;
  too_long.prompt = "Once upon a time there was";
  const auto rejected = runner.add(too_long);
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->id, 7u);
  EXPECT_NE(rejected->error.find("the context is 4"), std::string::npos) << rejected->error;
  EXPECT_EQ(runner.free_slots(), 1);

  SequenceRequest ok;
  ok.prompt = "Once";
  ok.generation = predict(-1);  // until the context is full
  ok.sampling = greedy();
  EXPECT_FALSE(runner.add(ok).has_value());
  EXPECT_THROW(runner.add(ok), Error);  // no free slot
  std::vector<SequenceResult> done;
  while (runner.live() > 0)
    for (auto& r : runner.step()) done.push_back(std::move(r));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].generation.finish, FinishReason::Length);
  // The prompt fills n_prompt of 4 positions; the generated tokens fill the rest, and
  // one more is shown that no position is left to run.
  const auto n_prompt = static_cast<int64_t>(model.tokenizer().encode("Once", true).size());
  ASSERT_LT(n_prompt, 4);
  EXPECT_EQ(done[0].generation.timings.n_prompt, n_prompt);
  EXPECT_EQ(done[0].generation.timings.n_generated, 4 - n_prompt + 1);
}

}  // namespace
}  // namespace tern::testing
