// Greedy: keep only the argmax (ties -> lowest id).
#include "tern/sampler.h"

namespace tern {

void Greedy::apply(CandidateSet& set, const SamplerContext&) {
  set.sort_prefix(1);  // a linear scan for the best candidate
  set.truncate(1);
  set.softmax();  // the survivor gets prob 1
}

}  // namespace tern
