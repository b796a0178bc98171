// Repetition penalty (CTRL / llama.cpp convention): for each distinct token among
// the last N history entries, a positive logit is divided by the penalty and a
// negative one multiplied by it, so a penalty > 1 always makes the token less likely.
#include <algorithm>

#include "tern/sampler.h"

namespace tern {

namespace {

inline void penalize(Candidate& c, float penalty) { c.logit = c.logit > 0.0f ? c.logit / penalty : c.logit * penalty; }

}  // namespace

void RepetitionPenalty::apply(CandidateSet& set, const SamplerContext& context) {
  if (penalty_ == 1.0f || last_n_ == 0 || context.history.empty() || set.empty()) return;
  const size_t n =
      last_n_ < 0 ? context.history.size() : std::min(context.history.size(), static_cast<size_t>(last_n_));
  const auto window = context.history.last(n);
  recent_.assign(window.begin(), window.end());  // reuses capacity
  std::sort(recent_.begin(), recent_.end());
  recent_.erase(std::unique(recent_.begin(), recent_.end()), recent_.end());

  auto items = set.items();
  if (set.is_identity()) {
    // Candidate i is token i: index directly.
    for (const int32_t id : recent_) {
      if (id >= 0 && static_cast<size_t>(id) < items.size()) penalize(items[id], penalty_);
    }
  } else {
    for (Candidate& c : items) {
      if (std::binary_search(recent_.begin(), recent_.end(), c.id)) penalize(c, penalty_);
    }
  }
  set.logits_changed(/*order_preserved=*/false);
}

}  // namespace tern
