// Top-k: keep the k highest logits. nth_element + sort of the k survivors only,
// so a 128k vocabulary costs O(V + k log k), never a full sort.
#include "tern/sampler.h"

namespace tern {

void TopK::apply(CandidateSet& set, const SamplerContext&) {
  if (k_ <= 0 || static_cast<size_t>(k_) >= set.size()) return;
  set.sort_prefix(static_cast<size_t>(k_));
  set.truncate(static_cast<size_t>(k_));
}

}  // namespace tern
