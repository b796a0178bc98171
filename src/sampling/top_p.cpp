// Top-p (nucleus): keep the smallest set of most probable candidates whose
// cumulative probability reaches p. The set is sorted incrementally (a growing
// prefix), so a peaked distribution over 128k ids never needs a full sort.
#include <algorithm>

#include "tern/sampler.h"

namespace tern {

namespace {
// Float rounding in the softmax can leave an exact boundary (0.5 + 0.3 vs p = 0.8)
// a hair short; this tolerance keeps the documented "reaches p" semantics.
constexpr double kTolerance = 1e-6;
constexpr size_t kFirstChunk = 64;
}  // namespace

void TopP::apply(CandidateSet& set, const SamplerContext&) {
  if (p_ >= 1.0f || set.size() <= 1) return;
  set.normalize();
  const double target = static_cast<double>(p_) - kTolerance;
  double cumulative = 0.0;
  size_t i = 0;
  size_t chunk = kFirstChunk;
  while (i < set.size()) {
    const size_t end = std::min(set.size(), i + chunk);
    set.sort_prefix(end);
    const auto items = set.items();
    for (; i < end; ++i) {
      cumulative += items[i].prob;
      if (cumulative >= target) {
        set.truncate(i + 1);
        return;
      }
    }
    chunk *= 8;
  }
  // Cumulative never reached p (rounding): everything stays.
}

}  // namespace tern
