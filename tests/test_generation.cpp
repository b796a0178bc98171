// The generation loop and its stop-string filter.
//
// StopStrings is checked against hand-worked streams. The Generator is checked on
// stories260K against the text llama2.c (the model's reference implementation)
// prints for "Once upon a time" at temperature 0, so the expectations do not come
// from the engine itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "generation/stop_strings.h"
#include "reference_texts.h"
#include "shared_data.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"

namespace tern::testing {
namespace {

// ---------------------------------------------------------------- StopStrings

// Pushes pieces one by one; returns everything emitted (pushes, then flush unless stopped).
std::string stream_through(StopStrings& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += s.push(p);
  if (!s.stopped()) out += s.flush();
  return out;
}

TEST(StopStrings, NoStopsPassesEverythingThrough) {
  StopStrings s({});
  EXPECT_EQ(s.push("hello"), "hello");
  EXPECT_EQ(s.push(" world"), " world");
  EXPECT_EQ(s.flush(), "");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, EmptyStopStringIsIgnored) {
  StopStrings s({""});
  EXPECT_EQ(s.push("abc"), "abc");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, StopInsideOnePieceEmitsTextBefore) {
  StopStrings s({"END"});
  EXPECT_EQ(s.push("abcENDdef"), "abc");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("more"), "");  // nothing after a stop
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, SplitAcrossPushesIsNeverEmittedPartially) {
  StopStrings s({"\nUser:"});
  EXPECT_EQ(s.push("Hello there."), "Hello there.");
  EXPECT_EQ(s.push("\n"), "");  // could start the stop string: held back
  EXPECT_EQ(s.push("Us"), "");  // still a prefix
  EXPECT_EQ(s.push("er"), "");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push(":"), "");  // completed: nothing of it is emitted
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, StopCompletedMidPieceEmitsHeldTextBeforeIt) {
  StopStrings s({"STOP"});
  EXPECT_EQ(s.push("ab S"), "ab ");  // "S" held
  EXPECT_EQ(s.push("TOP and more"), "");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, LookalikePrefixIsReleasedWhenItStopsMatching) {
  StopStrings s({"\nUser:"});
  EXPECT_EQ(s.push("a\nUs"), "a");
  EXPECT_EQ(s.push("ed"), "\nUsed");  // "\nUse" + "d" is not "\nUser": all released
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push(" to"), " to");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, ReleasesOnlyThePartThatCanNoLongerMatch) {
  StopStrings s({"abab"});
  EXPECT_EQ(s.push("xaba"), "x");  // "aba" is a prefix of "abab"
  EXPECT_EQ(s.push("c"), "abac");
  s = StopStrings({"abab"});
  EXPECT_EQ(s.push("aba"), "");
  EXPECT_EQ(s.push("ba"), "");  // "ababa" contains "abab": stop
  EXPECT_TRUE(s.stopped());
  s = StopStrings({"abab"});
  EXPECT_EQ(s.push("abaa"), "aba");  // "a" could still start "abab"
  EXPECT_EQ(s.flush(), "a");
}

TEST(StopStrings, FlushReturnsHeldBackRemainder) {
  StopStrings s({"</s>"});
  EXPECT_EQ(s.push("the end</"), "the end");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.flush(), "</");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, EarliestOfSeveralWins) {
  {
    StopStrings s({"world", "lo w"});
    EXPECT_EQ(s.push("hello world"), "hel");  // "lo w" starts before "world"
    EXPECT_TRUE(s.stopped());
  }
  {
    StopStrings s({"lo w", "world"});  // order of the list does not matter
    EXPECT_EQ(s.push("hello world"), "hel");
  }
  {
    // Streamed: a long stop is still a prefix when a shorter one completes.
    StopStrings s({"cdefgh", "de"});
    EXPECT_EQ(s.push("abcd"), "ab");
    EXPECT_EQ(s.push("e"), "c");
    EXPECT_TRUE(s.stopped());
  }
}

TEST(StopStrings, HoldsTheLongestPossiblePrefixAmongSeveral) {
  StopStrings s({"xyz", "yz!"});
  EXPECT_EQ(s.push("axy"), "a");  // "xy" (prefix of xyz) held, not just "y"
  EXPECT_EQ(s.push("z"), "");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, OutputIsIndependentOfHowTextIsSplit) {
  const std::string text = "Lily said: \"Hi!\" The end. User: more";
  const std::vector<std::string> stops = {"User:", "The end?"};
  const std::string expected = "Lily said: \"Hi!\" The end. ";
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); b += 3) {
      StopStrings s(stops);
      const std::string out = stream_through(s, {text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      ASSERT_EQ(out, expected) << "split at " << a << ", " << b;
      ASSERT_TRUE(s.stopped());
    }
  }
  // One byte at a time, no stop present: everything comes out.
  StopStrings s({"User?"});
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(stream_through(s, bytes), text);
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, Utf8StopString) {
  StopStrings s({"\xE2\x80\x94"});  // em dash
  EXPECT_EQ(s.push("caf\xC3\xA9 "), "caf\xC3\xA9 ");
  EXPECT_EQ(s.push("\xE2\x80\x94 ok"), "");
  EXPECT_TRUE(s.stopped());
}

// ---------------------------------------------------------------- Generator

constexpr const char* kModel = "models/stories260K.gguf";
constexpr const char* kPrompt = "Once upon a time";
// llama2.c, stories260K, "Once upon a time", temperature 0: what follows the prompt.
constexpr const char* kReferenceContinuation = testing::kReference260KContinuation;

// One model for the whole suite (loading it once keeps the file fast).
class GenerationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto path = shared_dir() / kModel;
    if (std::filesystem::exists(path)) model_.emplace(Model::load(path));
  }
  static void TearDownTestSuite() { model_.reset(); }

  void SetUp() override {
    TERN_REQUIRE_SHARED(path, kModel);
    ASSERT_TRUE(model_.has_value());
  }

  static SamplerParams greedy() {
    SamplerParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;  // llama2.c has none
    return p;
  }
  static GenerationParams predict(int32_t n, std::vector<std::string> stop = {}) {
    GenerationParams g;
    g.n_predict = n;
    g.stop = std::move(stop);
    return g;
  }
  static const Model& model() { return *model_; }

  static std::optional<Model> model_;
};
std::optional<Model> GenerationTest::model_;

TEST_F(GenerationTest, GreedyMatchesLlama2cAndRespectsNPredict) {
  Context ctx(model(), 256);
  Generator gen(ctx, greedy());
  std::string streamed;
  const auto r = gen.generate(kPrompt, predict(24), [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.tokens.size(), 24u);
  EXPECT_EQ(r.timings.n_generated, 24);
  EXPECT_EQ(r.timings.n_prompt, 5);  // BOS + 4 pieces
  // 24 tokens end inside the reference sentence; the text is a prefix of it.
  ASSERT_GE(r.text.size(), std::string(", there was a little girl named Lily.").size()) << r.text;
  EXPECT_EQ(std::string(kReferenceContinuation).rfind(r.text, 0), 0u) << "text: '" << r.text << "'";
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(model().tokenizer().decode(r.tokens), r.text);
}

TEST_F(GenerationTest, ZeroTokensGeneratesNothing) {
  Context ctx(model(), 64);
  Generator gen(ctx, greedy());
  const auto r = gen.generate(kPrompt, predict(0), nullptr);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_TRUE(r.tokens.empty());
  EXPECT_TRUE(r.text.empty());
}

TEST_F(GenerationTest, NegativeNPredictOtherThanMinusOneThrows) {
  Context ctx(model(), 64);
  Generator gen(ctx, greedy());
  EXPECT_THROW(gen.generate(kPrompt, predict(-5), nullptr), Error);
}

TEST_F(GenerationTest, StopStringFromKnownContinuation) {
  Context ctx(model(), 256);
  Generator gen(ctx, greedy());
  std::string streamed;
  const auto r = gen.generate(kPrompt, predict(60, {" Lily"}), [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text, ", there was a little girl named");
  EXPECT_EQ(streamed, r.text);
  EXPECT_LT(r.tokens.size(), 60u);
}

TEST_F(GenerationTest, StopStringSplitAcrossTokens) {
  // "girl named" spans two tokens; nothing of it may reach the sink.
  Context ctx(model(), 256);
  Generator gen(ctx, greedy());
  std::string streamed;
  const auto r = gen.generate(kPrompt, predict(60, {"l named"}), [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text, ", there was a little gir");
  EXPECT_EQ(streamed, r.text);
}

TEST_F(GenerationTest, StopStringNeverSeenFlushesEverything) {
  Context ctx(model(), 256);
  Generator gen(ctx, greedy());
  std::string streamed;
  // Text that looks like the start of a stop string ("Lily. S", "park") is held
  // back and released once the next token rules the stop out; a held-back tail
  // (24 tokens end in "in the p", which could still become "in the parking")
  // comes out through the final flush.
  const GenerationParams params = predict(24, {"park!", "Lily. Sx", "in the parking"});
  const auto r = gen.generate(kPrompt, params, [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.text, ", there was a little girl named Lily. She loved to play outside in the p");
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(model().tokenizer().decode(r.tokens), r.text);
}

TEST_F(GenerationTest, SinkReturningFalseCancels) {
  Context ctx(model(), 256);
  Generator gen(ctx, greedy());
  int calls = 0;
  std::string streamed;
  const auto r = gen.generate(kPrompt, predict(60), [&](std::string_view piece) {
    streamed += piece;
    return ++calls < 3;
  });
  EXPECT_EQ(r.finish, FinishReason::Cancelled);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.tokens.size(), 3u);  // "," "▁there" "▁was": one piece per token here
  EXPECT_EQ(r.text, ", there was");
  EXPECT_EQ(streamed, r.text);
}

TEST_F(GenerationTest, PromptThatDoesNotFitThrows) {
  Context ctx(model(), 8);
  Generator gen(ctx, greedy());
  EXPECT_THROW(
      gen.generate("Once upon a time there was a little girl named Lily who liked to play", predict(4), nullptr),
      Error);
  // Nothing was run: the context and the history are untouched.
  EXPECT_EQ(ctx.n_past(), 0);
  EXPECT_TRUE(gen.history().empty());
  // A prompt that fits still works afterwards.
  const auto r = gen.generate(kPrompt, predict(3), nullptr);
  EXPECT_EQ(r.text, ", there was");
}

TEST_F(GenerationTest, UntilContextFullStopsAtTheEnd) {
  Context ctx(model(), 16);
  Generator gen(ctx, greedy());
  const auto r = gen.generate(kPrompt, predict(-1), nullptr);
  ASSERT_NE(r.finish, FinishReason::Eos);  // the reference text has no EOS this early
  EXPECT_EQ(r.finish, FinishReason::Length);
  // 5 prompt tokens; 11 more fill the context and one last token is sampled from it.
  EXPECT_EQ(r.tokens.size(), 12u);
  EXPECT_EQ(ctx.n_past(), 16);
  EXPECT_EQ(std::string(kReferenceContinuation).rfind(r.text, 0), 0u) << r.text;
  // The context is full: another turn does not fit.
  EXPECT_THROW(gen.generate(" She", predict(1), nullptr), Error);
}

TEST_F(GenerationTest, SecondTurnContinuesTheContext) {
  const Tokenizer& tok = model().tokenizer();
  const std::string first_part = ", there was a little girl named Lily.";
  // How many greedy tokens produce exactly first_part (turn 1 ends after "Lily.").
  int32_t n = 0;
  {
    Context ctx(model(), 256);
    Generator gen(ctx, greedy());
    const auto probe = gen.generate(kPrompt, predict(40), nullptr);
    std::string text;
    while (n < static_cast<int32_t>(probe.tokens.size()) && text.size() < first_part.size()) {
      ++n;
      text = tok.decode(std::vector<int32_t>(probe.tokens.begin(), probe.tokens.begin() + n));
    }
    ASSERT_EQ(text, first_part);
  }
  auto run_two_turns = [&](const std::string& second_prompt, int32_t second_n, Context& ctx) {
    Generator gen(ctx, greedy());
    const auto r1 = gen.generate(kPrompt, predict(n), nullptr);
    EXPECT_EQ(r1.text, first_part);
    const int64_t after_first = ctx.n_past();
    EXPECT_EQ(after_first, 5 + n);
    EXPECT_EQ(gen.history().size(), static_cast<size_t>(after_first));
    const auto r2 = gen.generate(second_prompt, predict(second_n), nullptr);
    const int64_t n_prompt2 = static_cast<int64_t>(tok.encode(second_prompt, false).size());
    EXPECT_EQ(r2.timings.n_prompt, n_prompt2);  // no BOS on a later turn
    EXPECT_EQ(ctx.n_past(), after_first + n_prompt2 + second_n);
    EXPECT_EQ(std::count(gen.history().begin(), gen.history().end(), tok.bos()), 1);
    EXPECT_EQ(gen.history().front(), tok.bos());
    return r2;
  };

  // Turn 2 supplies the next words of the llama2.c text; the model goes on with it.
  {
    Context ctx(model(), 256);
    const auto r2 = run_two_turns("She loved", 13, ctx);
    EXPECT_EQ(r2.text.rfind(" to play outside in the park.", 0), 0u) << "text: '" << r2.text << "'";
  }
  // A turn whose continuation depends on the first: with turn 1 remembered, the model
  // reuses the name it introduced; two turns equal one run over the joined text, and
  // differ from the same prompt in a fresh context.
  Context ctx(model(), 256);
  const auto r2 = run_two_turns("One day,", 12, ctx);
  Context whole(model(), 256);
  Generator gen_whole(whole, greedy());
  const auto joined = gen_whole.generate(std::string(kPrompt) + first_part + " One day,", predict(12), nullptr);
  EXPECT_EQ(joined.tokens, r2.tokens) << "two turns: '" << r2.text << "', one run: '" << joined.text << "'";
  Context fresh(model(), 256);
  Generator gen_fresh(fresh, greedy());
  const auto alone = gen_fresh.generate("One day,", predict(12), nullptr);
  EXPECT_NE(alone.tokens, r2.tokens) << "fresh: '" << alone.text << "', continued: '" << r2.text << "'";
}

TEST_F(GenerationTest, HistoryMatchesContextAfterStopAndCancel) {
  // history() is documented as "every token in the context": it must agree with
  // the context's position however a turn ended, or the next turn's context and
  // repetition-penalty window disagree with what the model saw.
  {
    Context ctx(model(), 256);
    Generator gen(ctx, greedy());
    const auto r = gen.generate(kPrompt, predict(60, {" Lily"}), nullptr);
    ASSERT_EQ(r.finish, FinishReason::Stop);
    EXPECT_EQ(static_cast<int64_t>(gen.history().size()), ctx.n_past()) << "after a stop string";
  }
  {
    Context ctx(model(), 256);
    Generator gen(ctx, greedy());
    const auto r = gen.generate(kPrompt, predict(60), [](std::string_view) { return false; });
    ASSERT_EQ(r.finish, FinishReason::Cancelled);
    EXPECT_EQ(static_cast<int64_t>(gen.history().size()), ctx.n_past()) << "after cancelling";
  }
}

TEST_F(GenerationTest, StreamedPiecesConcatenateToResultText) {
  SamplerParams sampling;  // default sampling, fixed seed: exercises non-greedy text
  sampling.seed = 42;
  Context ctx(model(), 256);
  Generator gen(ctx, sampling);
  std::string streamed;
  size_t pieces = 0;
  GenerationParams params = predict(80);
  params.stop_at_eos = true;
  const auto r = gen.generate(kPrompt, params, [&](std::string_view piece) {
    EXPECT_FALSE(piece.empty());
    streamed += piece;
    ++pieces;
    return true;
  });
  EXPECT_EQ(streamed, r.text);
  // The decoder's pieces add up to the tokenizer's whole-sequence decode (the text
  // continues the prompt, so its leading space is kept).
  StreamDecoder decoder(model().tokenizer(), false);
  std::string decoded;
  for (int32_t id : r.tokens) decoded += decoder.push(id);
  decoded += decoder.flush();
  EXPECT_EQ(decoded, r.text);
  EXPECT_GT(pieces, 0u);
}

TEST_F(GenerationTest, SameSeedSameTextAcrossGenerators) {
  SamplerParams sampling;
  sampling.seed = 7;
  Context a(model(), 128), b(model(), 128);
  Generator ga(a, sampling), gb(b, sampling);
  const auto ra = ga.generate(kPrompt, predict(40), nullptr);
  const auto rb = gb.generate(kPrompt, predict(40), nullptr);
  EXPECT_EQ(ra.tokens, rb.tokens);
  EXPECT_EQ(ra.text, rb.text);
}

TEST(Generation, FinishReasonNames) {
  EXPECT_EQ(finish_reason_name(FinishReason::Eos), "eos");
  EXPECT_EQ(finish_reason_name(FinishReason::Length), "length");
  EXPECT_EQ(finish_reason_name(FinishReason::Stop), "stop");
  EXPECT_EQ(finish_reason_name(FinishReason::Cancelled), "cancelled");
}

}  // namespace
}  // namespace tern::testing
