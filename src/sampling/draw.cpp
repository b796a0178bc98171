// The final draw: inverse CDF over the (renormalized) candidate probabilities.
#include "tern/error.h"
#include "tern/sampler.h"

namespace tern {

double uniform01(std::mt19937_64& rng) {
  // 53 random mantissa bits: exactly representable, uniform in [0, 1), and the
  // same on every standard library (unlike std::uniform_real_distribution).
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

int32_t draw(CandidateSet& set, std::mt19937_64& rng) {
  if (set.empty()) fail("sampler: no candidates left to draw from");
  const double u = uniform01(rng);  // always consumed: the RNG stream is one value per call
  set.normalize();
  const auto items = set.items();
  double total = 0.0;
  for (const Candidate& c : items) total += c.prob;
  const double target = u * total;
  double cumulative = 0.0;
  size_t last_positive = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].prob <= 0.0f) continue;
    cumulative += items[i].prob;
    last_positive = i;
    if (target < cumulative) return items[i].id;
  }
  return items[last_positive].id;  // rounding left target at the very top
}

}  // namespace tern
