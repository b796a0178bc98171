// Min-p: keep candidates whose probability is at least min_p * (largest probability).
#include <algorithm>

#include "tern/sampler.h"

namespace tern {

void MinP::apply(CandidateSet& set, const SamplerContext&) {
  if (min_p_ <= 0.0f || set.size() <= 1) return;
  set.normalize();
  const float p_max = set.items()[set.best_index()].prob;
  const float threshold = min_p_ * p_max;
  // The best candidate always passes (min_p <= 1), so at least one is kept.
  set.filter([threshold](const Candidate& c) { return c.prob >= threshold; });
}

}  // namespace tern
