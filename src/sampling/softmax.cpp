// Softmax and renormalization steps.
#include "tern/sampler.h"

namespace tern {

void Softmax::apply(CandidateSet& set, const SamplerContext&) { set.softmax(); }

void Renormalize::apply(CandidateSet& set, const SamplerContext&) { set.normalize(); }

}  // namespace tern
