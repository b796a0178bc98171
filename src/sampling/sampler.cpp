// Sampler: default or custom chain + candidate scratch + its own RNG.
#include "tern/sampler.h"

namespace tern {

Sampler::Sampler(const SamplerParams& params) : chain_(SamplerChain::from_params(params)), rng_(params.seed) {}

Sampler::Sampler(SamplerChain chain, uint64_t seed) : chain_(std::move(chain)), rng_(seed) {}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  candidates_.assign(logits);
  chain_.apply(candidates_, SamplerContext{history});
  return draw(candidates_, rng_);
}

void Sampler::reset(uint64_t seed) { rng_.seed(seed); }

}  // namespace tern
