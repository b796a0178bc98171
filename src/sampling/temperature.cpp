// Temperature: logits / T. T < 1 sharpens, T > 1 flattens; T must be > 0
// (T == 0 means greedy and is handled by the Greedy step instead).
#include "tern/error.h"
#include "tern/sampler.h"

namespace tern {

void Temperature::apply(CandidateSet& set, const SamplerContext&) {
  if (!(temperature_ > 0.0f)) fail("sampler: temperature step needs T > 0, got {}", temperature_);
  if (temperature_ == 1.0f) return;
  for (Candidate& c : set.items()) c.logit /= temperature_;
  set.logits_changed(/*order_preserved=*/true);
}

}  // namespace tern
