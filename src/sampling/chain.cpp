// SamplerChain: an ordered list of steps; from_params builds the default one.
#include "tern/error.h"
#include "tern/sampler.h"

namespace tern {

SamplerChain SamplerChain::from_params(const SamplerParams& params) {
  params.validate();
  SamplerChain chain;
  if (params.repeat_penalty != 1.0f && params.repeat_last_n != 0) {
    chain.emplace<RepetitionPenalty>(params.repeat_penalty, params.repeat_last_n);
  }
  if (params.temperature == 0.0f) {
    chain.emplace<Greedy>();
    return chain;
  }
  if (params.temperature != 1.0f) chain.emplace<Temperature>(params.temperature);
  if (params.top_k > 0) chain.emplace<TopK>(params.top_k);
  chain.emplace<Softmax>();
  if (params.top_p < 1.0f) chain.emplace<TopP>(params.top_p);
  if (params.min_p > 0.0f) chain.emplace<MinP>(params.min_p);
  chain.emplace<Renormalize>();
  return chain;
}

SamplerChain& SamplerChain::add(std::unique_ptr<SamplerStep> step) {
  if (!step) fail("sampler: cannot add a null step to a chain");
  steps_.push_back(std::move(step));
  return *this;
}

void SamplerChain::apply(CandidateSet& set, const SamplerContext& context) {
  for (const auto& step : steps_) step->apply(set, context);
}

}  // namespace tern
