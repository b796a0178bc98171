// Sampling: every expectation here is computed by hand or with plain formulas in the
// test (std::exp, sorting), never by calling the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tern/error.h"
#include "tern/sampler.h"

namespace tern {
namespace {

// Params with every filter disabled: plain softmax sampling at temperature t.
SamplerParams plain(float t, uint64_t seed = 1) {
  SamplerParams p;
  p.temperature = t;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.repeat_last_n = 0;
  p.seed = seed;
  return p;
}

std::vector<double> softmax_ref(const std::vector<float>& logits, double t = 1.0) {
  double mx = -std::numeric_limits<double>::infinity();
  for (float l : logits) mx = std::max(mx, static_cast<double>(l) / t);
  std::vector<double> p(logits.size());
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(logits[i] / t - mx);
  for (double& x : p) x /= sum;
  return p;
}

std::vector<float> logs_of(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

std::vector<int> counts(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int> c(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++c.at(static_cast<size_t>(s.sample(logits, {})));
  return c;
}

// Pearson chi-square of observed counts against expected probabilities (cells with
// zero expected probability must have zero counts).
double chi_square(const std::vector<int>& observed, const std::vector<double>& expected, int n) {
  double chi = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected[i] == 0.0) {
      EXPECT_EQ(observed[i], 0) << "token " << i << " has zero probability";
      continue;
    }
    const double e = expected[i] * n;
    chi += (observed[i] - e) * (observed[i] - e) / e;
  }
  return chi;
}

std::set<int32_t> ids_of(const CandidateSet& set) {
  std::set<int32_t> ids;
  for (const Candidate& c : set.items()) ids.insert(c.id);
  return ids;
}

// ---------------------------------------------------------------- greedy

TEST(SamplerGreedy, PicksArgmax) {
  Sampler s(plain(0.0f));
  const std::vector<float> logits{0.1f, 2.5f, -1.0f, 2.4f, -7.0f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(SamplerGreedy, TiesGoToLowestId) {
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(std::vector<float>{1.0f, 3.0f, 0.0f, 3.0f, 3.0f}, {}), 1);
  EXPECT_EQ(s.sample(std::vector<float>{5.0f, 5.0f}, {}), 0);
  EXPECT_EQ(s.sample(std::vector<float>{-2.0f, -1.0f, -1.0f}, {}), 1);
}

TEST(SamplerGreedy, IgnoresFiltersAndSeed) {
  SamplerParams p = plain(0.0f);
  p.top_k = 3;
  p.top_p = 0.1f;
  p.min_p = 0.9f;
  const std::vector<float> logits{0.0f, 0.2f, 0.1f, 0.3f, 0.25f};
  for (uint64_t seed : {1u, 2u, 99u}) {
    p.seed = seed;
    Sampler s(p);
    EXPECT_EQ(s.sample(logits, {}), 3);
  }
}

// ---------------------------------------------------------------- repetition penalty

TEST(SamplerRepetitionPenalty, PositiveLogitIsDivided) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 64;
  Sampler s(p);
  const std::vector<float> logits{2.0f, 1.9f, 0.5f};
  EXPECT_EQ(s.sample(logits, {}), 0);                       // no history
  EXPECT_EQ(s.sample(logits, std::vector<int32_t>{0}), 1);  // 2.0/1.1 = 1.818 < 1.9
  EXPECT_EQ(s.sample(logits, std::vector<int32_t>{2}), 0);  // unrelated token
}

TEST(SamplerRepetitionPenalty, NegativeLogitIsMultiplied) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 64;
  Sampler s(p);
  const std::vector<float> logits{-1.0f, -1.05f, -3.0f};
  EXPECT_EQ(s.sample(logits, {}), 0);
  EXPECT_EQ(s.sample(logits, std::vector<int32_t>{0}), 1);  // -1.0*1.1 = -1.1 < -1.05
  // Dividing a negative logit would have raised it (-0.909) and kept token 0.
}

TEST(SamplerRepetitionPenalty, DistinctTokensPenalizedOnce) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 64;
  Sampler s(p);
  // Once: 3.0/1.1 = 2.727 > 2.6 keeps token 0. Twice would give 2.479 < 2.6.
  const std::vector<float> logits{3.0f, 2.6f};
  EXPECT_EQ(s.sample(logits, std::vector<int32_t>{0, 0, 0, 0}), 0);
}

TEST(SamplerRepetitionPenalty, OnlyLastNTokens) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 2;
  const std::vector<float> logits{2.0f, 1.9f, 0.5f};
  const std::vector<int32_t> history{0, 2, 2};  // token 0 is outside the window of 2
  Sampler s(p);
  EXPECT_EQ(s.sample(logits, history), 0);
  p.repeat_last_n = 3;
  Sampler s3(p);
  EXPECT_EQ(s3.sample(logits, history), 1);
  p.repeat_last_n = -1;  // whole history
  std::vector<int32_t> long_history{0};
  long_history.resize(500, 2);
  Sampler all(p);
  EXPECT_EQ(all.sample(logits, long_history), 1);
  p.repeat_last_n = 0;  // none
  Sampler none(p);
  EXPECT_EQ(none.sample(logits, history), 0);
}

TEST(SamplerRepetitionPenalty, OutOfRangeHistoryIdsIgnored) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = -1;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{1.0f, 0.9f}, std::vector<int32_t>{-1, 7, 1000}), 0);
}

TEST(SamplerRepetitionPenalty, WorksAfterReordering) {
  // Custom chain: top-k first (reorders the set), then the penalty must still find ids.
  SamplerChain chain;
  chain.emplace<TopK>(2).emplace<RepetitionPenalty>(2.0f, -1).emplace<Greedy>();
  Sampler s(std::move(chain), 0);
  const std::vector<float> logits{0.0f, 1.0f, 3.0f, 2.0f};
  EXPECT_EQ(s.sample(logits, {}), 2);
  EXPECT_EQ(s.sample(logits, std::vector<int32_t>{2}), 3);  // 3/2 = 1.5 < 2
}

// ---------------------------------------------------------------- top-k

TEST(SamplerTopK, OneIsGreedyAtAnyTemperature) {
  const std::vector<float> logits{0.3f, 1.2f, 1.25f, -4.0f, 1.25f, 0.0f};
  for (float t : {0.1f, 1.0f, 5.0f, 1000.0f}) {
    SamplerParams p = plain(t, 7);
    p.top_k = 1;
    Sampler s(p);
    for (int i = 0; i < 200; ++i) ASSERT_EQ(s.sample(logits, {}), 2) << "t=" << t;
  }
}

TEST(SamplerTopK, FrequenciesMatchTruncatedSoftmax) {
  const std::vector<float> logits{1.0f, 0.0f, 2.0f, -1.0f, 1.5f};
  SamplerParams p = plain(1.0f, 11);
  p.top_k = 3;  // keeps ids 2, 4, 0
  Sampler s(p);
  std::vector<double> expected(5, 0.0);
  const double z = std::exp(2.0) + std::exp(1.5) + std::exp(1.0);
  expected[2] = std::exp(2.0) / z;
  expected[4] = std::exp(1.5) / z;
  expected[0] = std::exp(1.0) / z;
  const int n = 20000;
  const auto c = counts(s, logits, n);
  EXPECT_LT(chi_square(c, expected, n), 13.8);  // 2 dof, p = 0.001
}

TEST(SamplerSteps, TopKKeepsHighestWithLowIdTies) {
  CandidateSet set;
  set.assign(std::vector<float>{1.0f, 5.0f, 3.0f, 5.0f, 3.0f, 0.0f});
  TopK(3).apply(set, {});
  EXPECT_EQ(ids_of(set), (std::set<int32_t>{1, 3, 2}));
}

TEST(SamplerSteps, TopKOnLargeVocabularyWithTies) {
  // Many ties: the expected set is the first k of a plain sort by (logit desc, id asc).
  std::mt19937 gen(17);
  std::vector<float> logits(20000);
  for (float& l : logits) l = static_cast<float>(gen() % 50);
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  for (int32_t k : {1, 2, 20, 300, 5000}) {
    CandidateSet set;
    set.assign(logits);
    TopK(k).apply(set, {});
    ASSERT_EQ(set.size(), static_cast<size_t>(k));
    for (int32_t i = 0; i < k; ++i) EXPECT_EQ(set.items()[i].id, order[i]) << "k=" << k;
  }
}

// ---------------------------------------------------------------- top-p

TEST(SamplerSteps, TopPKeepsSmallestSetReachingP) {
  // probs by id: 0 -> 0.3, 1 -> 0.05, 2 -> 0.5, 3 -> 0.15 (deliberately unsorted).
  const auto logits = logs_of({0.3, 0.05, 0.5, 0.15});
  struct Case {
    float p;
    std::set<int32_t> kept;
  };
  for (const Case& k : {Case{0.8f, {2, 0}}, Case{0.81f, {2, 0, 3}}, Case{0.4f, {2}}, Case{0.5f, {2}},
                        Case{0.51f, {2, 0}}, Case{0.95f, {2, 0, 3}}, Case{0.96f, {2, 0, 3, 1}}, Case{0.01f, {2}}}) {
    CandidateSet set;
    set.assign(logits);
    Softmax().apply(set, {});
    TopP(k.p).apply(set, {});
    EXPECT_EQ(ids_of(set), k.kept) << "p=" << k.p;
  }
}

TEST(SamplerTopP, FrequenciesMatchRenormalizedNucleus) {
  const auto logits = logs_of({0.3, 0.05, 0.5, 0.15});
  SamplerParams p = plain(1.0f, 5);
  p.top_p = 0.8f;  // keeps ids 2 and 0 -> 0.625 / 0.375
  Sampler s(p);
  const int n = 20000;
  const auto c = counts(s, logits, n);
  EXPECT_LT(chi_square(c, {0.375, 0.0, 0.625, 0.0}, n), 10.8);  // 1 dof, p = 0.001
}

TEST(SamplerSteps, TopPOnLargeVocabularyMatchesFullSort) {
  // 128k ids with a heavy head; expected count from a plain full sort in the test.
  const size_t vocab = 128 * 1024;
  std::mt19937 gen(123);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(vocab);
  for (float& l : logits) l = normal(gen);
  const auto probs = softmax_ref(logits);
  for (float top_p : {0.1f, 0.5f, 0.9f}) {
    std::vector<double> sorted = probs;
    std::sort(sorted.rbegin(), sorted.rend());
    size_t expected = 0;
    double cum = 0.0;
    while (expected < vocab) {
      cum += sorted[expected++];
      if (cum >= top_p) break;
    }
    CandidateSet set;
    set.assign(logits);
    Softmax().apply(set, {});
    TopP(top_p).apply(set, {});
    // Float accumulation may move the boundary by at most one token.
    EXPECT_NEAR(static_cast<double>(set.size()), static_cast<double>(expected), 1.0) << "top_p=" << top_p;
    // The kept ones are the most probable ones.
    double min_kept = 1.0;
    for (const Candidate& c : set.items()) min_kept = std::min(min_kept, probs[c.id]);
    EXPECT_GE(min_kept, sorted[set.size() - 1] * (1 - 1e-5));
  }
}

// ---------------------------------------------------------------- min-p

TEST(SamplerSteps, MinPKeepsRelativeToMax) {
  // probs 0.5, 0.3, 0.15, 0.05 -> thresholds min_p * 0.5.
  const auto logits = logs_of({0.5, 0.3, 0.15, 0.05});
  struct Case {
    float min_p;
    std::set<int32_t> kept;
  };
  for (const Case& k : {Case{0.2f, {0, 1, 2}},      // 0.1
                        Case{0.31f, {0, 1}},        // 0.155
                        Case{0.09f, {0, 1, 2, 3}},  // 0.045
                        Case{0.61f, {0}},           // 0.305
                        Case{1.0f, {0}}}) {
    CandidateSet set;
    set.assign(logits);
    Softmax().apply(set, {});
    MinP(k.min_p).apply(set, {});
    EXPECT_EQ(ids_of(set), k.kept) << "min_p=" << k.min_p;
  }
}

TEST(SamplerMinP, FrequenciesMatchFilteredDistribution) {
  const auto logits = logs_of({0.15, 0.5, 0.05, 0.3});
  SamplerParams p = plain(1.0f, 9);
  p.min_p = 0.2f;  // threshold 0.1 drops id 2 -> 0.15/0.95, 0.5/0.95, 0, 0.3/0.95
  Sampler s(p);
  const int n = 20000;
  const auto c = counts(s, logits, n);
  EXPECT_LT(chi_square(c, {0.15 / 0.95, 0.5 / 0.95, 0.0, 0.3 / 0.95}, n), 13.8);
}

// ---------------------------------------------------------------- distribution

TEST(SamplerDistribution, EmpiricalFrequenciesMatchSoftmax) {
  const std::vector<float> logits{1.0f, 0.0f, -0.5f, 2.0f};
  const auto expected = softmax_ref(logits);
  Sampler s(plain(1.0f, 42));
  const int n = 20000;
  const auto c = counts(s, logits, n);
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(c[i]) / n, expected[i], 0.02) << "token " << i;
  }
  EXPECT_LT(chi_square(c, expected, n), 16.27);  // 3 dof, p = 0.001
}

TEST(SamplerDistribution, TemperatureScalesLogits) {
  const std::vector<float> logits{1.0f, 0.0f, -0.5f, 2.0f};
  for (double t : {0.5, 2.0}) {
    const auto expected = softmax_ref(logits, t);
    Sampler s(plain(static_cast<float>(t), 3));
    const int n = 20000;
    const auto c = counts(s, logits, n);
    EXPECT_LT(chi_square(c, expected, n), 16.27) << "t=" << t;
  }
}

TEST(SamplerDistribution, DefaultChainStaysInTopK) {
  const size_t vocab = 128 * 1024;
  std::vector<float> logits(vocab);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-10.0f, 10.0f);
  for (float& l : logits) l = u(gen);
  std::vector<float> sorted = logits;
  std::nth_element(sorted.begin(), sorted.begin() + 39, sorted.end(), std::greater<>());
  const float kth = sorted[39];
  SamplerParams p;  // defaults: top_k 40, top_p 0.95, min_p 0.05
  Sampler s(p);
  std::vector<int32_t> history;
  for (int i = 0; i < 100; ++i) {
    const int32_t id = s.sample(logits, history);
    ASSERT_GE(id, 0);
    ASSERT_LT(static_cast<size_t>(id), vocab);
    EXPECT_GE(logits[id], kth);
  }
}

// ---------------------------------------------------------------- seeds

TEST(SamplerSeed, SameSeedSameSequenceDifferentSeedDiffers) {
  const std::vector<float> logits{0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  auto run = [&](uint64_t seed) {
    SamplerParams p = plain(1.0f, seed);
    p.repeat_penalty = 1.3f;
    p.repeat_last_n = 4;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits, out));
    return out;
  };
  EXPECT_EQ(run(1234), run(1234));
  EXPECT_NE(run(1234), run(1235));
}

TEST(SamplerSeed, ResetReproduces) {
  const std::vector<float> logits{0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  Sampler s(plain(1.0f, 77));
  std::vector<int32_t> first, second, third;
  for (int i = 0; i < 100; ++i) first.push_back(s.sample(logits, {}));
  s.reset(77);
  for (int i = 0; i < 100; ++i) second.push_back(s.sample(logits, {}));
  EXPECT_EQ(first, second);
  s.reset(78);
  for (int i = 0; i < 100; ++i) third.push_back(s.sample(logits, {}));
  EXPECT_NE(first, third);
}

// ---------------------------------------------------------------- params

void expect_rejected(const SamplerParams& p, const std::string& flag) {
  try {
    p.validate();
    ADD_FAILURE() << "accepted params that should name " << flag;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(flag), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(SamplerParams, DefaultsAndEdgesAreValid) {
  EXPECT_NO_THROW(SamplerParams{}.validate());
  SamplerParams p;
  p.temperature = 0.0f;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.repeat_penalty = 0.5f;
  p.repeat_last_n = -1;
  p.top_k = -5;
  EXPECT_NO_THROW(p.validate());
}

TEST(SamplerParams, RejectsOutOfRange) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float v : {1.5f, 0.0f, -0.1f, nan}) {
    SamplerParams p;
    p.top_p = v;
    expect_rejected(p, "--top-p");
  }
  for (float v : {-0.1f, nan, std::numeric_limits<float>::infinity()}) {
    SamplerParams p;
    p.temperature = v;
    expect_rejected(p, "--temperature");
  }
  for (float v : {-0.01f, 1.01f, nan}) {
    SamplerParams p;
    p.min_p = v;
    expect_rejected(p, "--min-p");
  }
  for (float v : {0.0f, -1.0f, nan}) {
    SamplerParams p;
    p.repeat_penalty = v;
    expect_rejected(p, "--repeat-penalty");
  }
  SamplerParams p;
  p.repeat_last_n = -2;
  expect_rejected(p, "--repeat-last-n");
}

TEST(SamplerParams, MessageShowsValue) {
  SamplerParams p;
  p.top_p = 1.5f;
  try {
    p.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--top-p must be in (0, 1], got 1.5");
  }
}

TEST(SamplerParams, SamplerConstructorValidates) {
  SamplerParams p;
  p.temperature = -1.0f;
  EXPECT_THROW(Sampler{p}, Error);
}

// ---------------------------------------------------------------- chain and misc

TEST(SamplerChainTest, DefaultChainSteps) {
  auto names = [](const SamplerChain& c) {
    std::vector<std::string> out;
    for (size_t i = 0; i < c.size(); ++i) out.emplace_back(c.step(i).name());
    return out;
  };
  // Defaults follow llama.cpp: repetition penalty off (1.0), so it is left out.
  EXPECT_EQ(names(SamplerChain::from_params(SamplerParams{})),
            (std::vector<std::string>{"temperature", "top-k", "softmax", "top-p", "min-p", "renormalize"}));
  SamplerParams penalized;
  penalized.repeat_penalty = 1.1f;
  EXPECT_EQ(names(SamplerChain::from_params(penalized)),
            (std::vector<std::string>{"repetition-penalty", "temperature", "top-k", "softmax", "top-p", "min-p",
                                      "renormalize"}));
  EXPECT_EQ(names(SamplerChain::from_params(plain(0.0f))), (std::vector<std::string>{"greedy"}));
  EXPECT_EQ(names(SamplerChain::from_params(plain(1.0f))), (std::vector<std::string>{"softmax", "renormalize"}));
}

TEST(SamplerChainTest, CustomChain) {
  SamplerChain chain;
  chain.emplace<Temperature>(0.5f).emplace<TopK>(1);
  Sampler s(std::move(chain), 3);
  EXPECT_EQ(s.sample(std::vector<float>{0.0f, 4.0f, 1.0f}, {}), 1);
}

TEST(SamplerMisc, EmptyLogitsThrow) {
  Sampler s(SamplerParams{});
  EXPECT_THROW(s.sample(std::span<const float>{}, {}), Error);
}

TEST(SamplerMisc, SingleTokenAndNegInf) {
  Sampler s(SamplerParams{});
  EXPECT_EQ(s.sample(std::vector<float>{-3.0f}, {}), 0);
  const float ninf = -std::numeric_limits<float>::infinity();
  Sampler t(plain(1.0f));
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(t.sample(std::vector<float>{ninf, 0.0f, ninf}, {}), 1);
  }
}

TEST(SamplerMisc, VocabularySizeMayChange) {
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f}, {}), 3);
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.0f}, {}), 0);
  EXPECT_EQ(s.sample(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f, 9.0f, 1.0f}, {}), 4);
}

}  // namespace
}  // namespace tern
