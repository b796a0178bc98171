#include "tern/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tern/error.h"

namespace tern {
namespace {

// -log softmax(logits)[target], in double so long texts do not lose precision.
double negative_log_likelihood(std::span<const float> logits, int32_t target) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_logit);
  return std::log(sum) - (static_cast<double>(logits[static_cast<size_t>(target)]) - max_logit);
}

int64_t count_windows(int64_t n, int64_t context, int64_t stride) {
  int64_t windows = 0;
  for (int64_t begin = 0;; begin += stride) {
    ++windows;
    if (begin + context >= n) return windows;
  }
}

}  // namespace

PerplexityResult compute_perplexity(const Model& model, std::span<const int32_t> tokens, int64_t context,
                                    int64_t stride, KvType kv_type,
                                    const std::function<void(int64_t, int64_t)>& progress) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n < 2) fail("perplexity needs at least 2 tokens, the text has {}", n);
  if (context < 2) fail("-c must be at least 2, got {}", context);
  if (stride < 1 || stride > context) fail("--stride must be in 1..{} (the context), got {}", context, stride);
  const auto start = std::chrono::steady_clock::now();
  const int64_t vocab = model.config().n_vocab;
  Context ctx(model, context, Context::kDefaultBatch, kv_type);
  PerplexityResult r;
  const int64_t total_windows = count_windows(n, context, stride);
  double nll_sum = 0;
  int64_t scored_until = 1;  // targets before this position are scored already
  for (int64_t begin = 0;; begin += stride) {
    const int64_t end = std::min(begin + context, n);
    ctx.reset();
    for (int64_t chunk = begin; chunk < end; chunk += ctx.max_batch()) {
      const int64_t chunk_end = std::min(chunk + ctx.max_batch(), end);
      const auto logits =
          ctx.evaluate(tokens.subspan(static_cast<size_t>(chunk), static_cast<size_t>(chunk_end - chunk)));
      // Logits after token i predict token i + 1.
      for (int64_t i = chunk; i < chunk_end; ++i) {
        const int64_t target = i + 1;
        if (target < std::max(begin + 1, scored_until) || target >= end) continue;
        nll_sum += negative_log_likelihood(
            logits.subspan(static_cast<size_t>((i - chunk) * vocab), static_cast<size_t>(vocab)),
            tokens[static_cast<size_t>(target)]);
        ++r.n_scored;
      }
    }
    r.n_evaluated += end - begin;
    scored_until = end;
    ++r.n_windows;
    if (progress) progress(r.n_windows, total_windows);
    if (end >= n) break;
  }
  r.mean_nll = nll_sum / static_cast<double>(r.n_scored);
  r.perplexity = std::exp(r.mean_nll);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace tern
