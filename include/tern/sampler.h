#pragma once
// Token sampling: a chain of small steps over a candidate set built from logits.
//
// The default chain (SamplerChain::from_params) is
//   repetition penalty -> (temperature == 0: greedy) | temperature -> top-k ->
//   softmax -> top-p -> min-p -> renormalize -> draw (inverse CDF, one uniform).
// Every step is a SamplerStep; callers may assemble their own SamplerChain and
// hand it to a Sampler. A Sampler owns its RNG and all scratch memory; after the
// first call at a given vocabulary size, sampling does not allocate (the only
// exception is a repeat_last_n = -1 window, whose scratch grows with history).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace tern {

struct SamplerParams {
  float temperature = 0.8f;  // 0 => greedy (argmax after repetition penalty; ties -> lowest id)
  int32_t top_k = 40;        // <= 0 => disabled
  float top_p = 0.95f;       // 1.0 => disabled; must be in (0, 1]
  float min_p = 0.05f;       // 0 => disabled; in [0, 1]
  float repeat_penalty =
      1.0f;  // 1.0 (default, as llama.cpp) => disabled; > 0 (positive logit divided, negative multiplied)
  int32_t repeat_last_n = 64;  // recent tokens penalized (0 = none, -1 = whole history given)
  uint64_t seed = 0;

  // Throws tern::Error with a one-line message naming the flag
  // (--temperature, --top-p, --min-p, --repeat-penalty, --repeat-last-n).
  void validate() const;
};

// One entry of the working set. `prob` is only meaningful while the set says so
// (CandidateSet::has_probs()).
struct Candidate {
  int32_t id;
  float logit;
  float prob;
};

// The working set the steps operate on. Live candidates are items()[0, size()).
// Ordering is "logit descending, then id ascending"; the set tracks how long a
// prefix is known to be in that order, so steps sort only as much as they need.
class CandidateSet {
 public:
  // Refills from logits: candidate i has id i. Reuses capacity (no allocation once
  // the capacity reached the vocabulary size). Throws tern::Error on empty logits.
  void assign(std::span<const float> logits);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<Candidate> items() { return {items_.data(), size_}; }
  std::span<const Candidate> items() const { return {items_.data(), size_}; }

  // True while candidate index i holds token id i (right after assign()).
  bool is_identity() const { return identity_; }
  // Number of leading candidates known to be the best ones, in canonical order.
  size_t sorted_prefix() const { return sorted_prefix_; }
  // True when probs are valid (a softmax of the current logits, up to scale).
  bool has_probs() const { return probs_valid_; }
  // True when probs are valid and sum to 1 over the live set.
  bool is_normalized() const { return probs_valid_ && normalized_; }

  // Puts the n best candidates (canonical order) first, sorted. O(size + n log n).
  void sort_prefix(size_t n);
  // Keeps the first n candidates.
  void truncate(size_t n);
  // Keeps candidates satisfying pred, preserving their relative order.
  template <typename Pred>
  void filter(Pred pred);

  // Index of the best candidate (highest logit, ties -> lowest id). Set non-empty.
  size_t best_index() const;

  // Tell the set that a step rewrote logits. `order_preserved` when the mapping is
  // strictly increasing (e.g. temperature scaling), so sorted order survives.
  void logits_changed(bool order_preserved);

  // Recomputes probs as the softmax of the live logits (max-subtracted).
  void softmax();
  // Makes probs a normalized distribution over the live set: softmax of the logits
  // when probs are stale, a rescale when they are valid but no longer sum to 1.
  void normalize();

 private:
  std::vector<Candidate> items_;
  size_t size_ = 0;
  size_t sorted_prefix_ = 0;  // items_[0, sorted_prefix_) are the best, in order
  bool identity_ = false;
  bool probs_valid_ = false;
  bool normalized_ = false;
};

// Canonical order: higher logit first, ties broken by lower id.
inline bool candidate_before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

template <typename Pred>
void CandidateSet::filter(Pred pred) {
  size_t kept = 0;
  size_t kept_sorted = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (pred(static_cast<const Candidate&>(items_[i]))) {
      if (i < sorted_prefix_) ++kept_sorted;
      items_[kept++] = items_[i];
    }
  }
  if (kept != size_) {
    identity_ = false;
    normalized_ = false;
  }
  size_ = kept;
  // Every kept element of the old sorted prefix lands in front of the rest, in order.
  sorted_prefix_ = kept_sorted;
}

// Context every step sees for one sampling call.
struct SamplerContext {
  std::span<const int32_t> history;  // previous tokens, newest last
};

class SamplerStep {
 public:
  virtual ~SamplerStep() = default;
  virtual std::string_view name() const = 0;
  virtual void apply(CandidateSet& set, const SamplerContext& context) = 0;
};

// Divides positive logits by `penalty` and multiplies negative ones by it, once per
// distinct token among the last `last_n` history entries (-1: all). Ids outside the
// vocabulary are ignored.
class RepetitionPenalty final : public SamplerStep {
 public:
  RepetitionPenalty(float penalty, int32_t last_n) : penalty_(penalty), last_n_(last_n) {}
  std::string_view name() const override { return "repetition-penalty"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;

 private:
  float penalty_;
  int32_t last_n_;
  std::vector<int32_t> recent_;  // scratch: distinct recent ids, sorted
};

// Keeps only the argmax (ties -> lowest id), with prob 1.
class Greedy final : public SamplerStep {
 public:
  std::string_view name() const override { return "greedy"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;
};

// Divides every logit by `temperature` (> 0).
class Temperature final : public SamplerStep {
 public:
  explicit Temperature(float temperature) : temperature_(temperature) {}
  std::string_view name() const override { return "temperature"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;

 private:
  float temperature_;
};

// Keeps the k highest logits (ties -> lower ids); k <= 0 or k >= size: no-op.
class TopK final : public SamplerStep {
 public:
  explicit TopK(int32_t k) : k_(k) {}
  std::string_view name() const override { return "top-k"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;

 private:
  int32_t k_;
};

// Computes the softmax of the live logits (probs sum to 1).
class Softmax final : public SamplerStep {
 public:
  std::string_view name() const override { return "softmax"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;
};

// Rescales probs to sum to 1 over the live set after filtering (softmax if stale).
class Renormalize final : public SamplerStep {
 public:
  std::string_view name() const override { return "renormalize"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;
};

// Keeps the smallest set of most probable candidates whose cumulative probability
// reaches p (at least one; a 1e-6 tolerance absorbs float rounding at the
// boundary). Sorts only as far as needed.
class TopP final : public SamplerStep {
 public:
  explicit TopP(float p) : p_(p) {}
  std::string_view name() const override { return "top-p"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;

 private:
  float p_;
};

// Keeps candidates whose probability is at least min_p times the largest one.
class MinP final : public SamplerStep {
 public:
  explicit MinP(float min_p) : min_p_(min_p) {}
  std::string_view name() const override { return "min-p"; }
  void apply(CandidateSet& set, const SamplerContext& context) override;

 private:
  float min_p_;
};

// Draws one id from the set's distribution (normalizing it first) by inverse CDF
// with a uniform double in [0, 1) built from one 64-bit RNG output. Always
// consumes exactly one RNG output, whatever the set size.
int32_t draw(CandidateSet& set, std::mt19937_64& rng);

// The uniform double draw() uses: top 53 bits of one rng() output, in [0, 1).
double uniform01(std::mt19937_64& rng);

class SamplerChain {
 public:
  SamplerChain() = default;
  SamplerChain(SamplerChain&&) noexcept = default;
  SamplerChain& operator=(SamplerChain&&) noexcept = default;

  // The default chain for params (validated first); disabled steps are left out.
  static SamplerChain from_params(const SamplerParams& params);

  SamplerChain& add(std::unique_ptr<SamplerStep> step);
  template <typename Step, typename... Args>
  SamplerChain& emplace(Args&&... args) {
    return add(std::make_unique<Step>(std::forward<Args>(args)...));
  }

  // Runs every step in order over the set.
  void apply(CandidateSet& set, const SamplerContext& context);

  size_t size() const { return steps_.size(); }
  const SamplerStep& step(size_t i) const { return *steps_.at(i); }

 private:
  std::vector<std::unique_ptr<SamplerStep>> steps_;
};

class Sampler {
 public:
  // Validates params and builds the default chain; RNG seeded from params.seed.
  explicit Sampler(const SamplerParams& params);
  // A custom chain; the final draw is always appended implicitly.
  Sampler(SamplerChain chain, uint64_t seed);

  // logits: one per vocabulary id. history: previous tokens (prompt + generated),
  // newest last. Returns the sampled id.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // Reseeds the RNG; the same seed reproduces the same sequence of draws.
  void reset(uint64_t seed);

  const SamplerChain& chain() const { return chain_; }

 private:
  SamplerChain chain_;
  CandidateSet candidates_;
  std::mt19937_64 rng_;
};

}  // namespace tern
