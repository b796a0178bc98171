#include "bench/batch_decode.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "model/multi_forward.h"

namespace tern {

double time_batch_decode(const Model& model, int batch, int n_prompt, int n_gen) {
  const ModelWeights& w = model.weights();
  const ModelConfig& c = model.config();
  const int64_t n_ctx = n_prompt + n_gen + 1;
  ForwardScratch scratch(w, n_ctx, std::max<int64_t>(batch, n_prompt));
  std::vector<std::unique_ptr<KvCache>> caches_owned;
  std::vector<KvCache*> caches;
  for (int b = 0; b < batch; ++b) {
    caches_owned.push_back(std::make_unique<KvCache>(c.n_layers(), n_ctx, c.kv_dim()));
    caches.push_back(caches_owned.back().get());
  }
  // Distinct prompts, so the sequences diverge like real requests.
  std::vector<int32_t> next(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
    for (int i = 0; i < n_prompt; ++i) prompt[i] = static_cast<int32_t>((1 + b * 131 + i * 17) % c.n_vocab);
    std::vector<int64_t> positions(prompt.size());
    for (int i = 0; i < n_prompt; ++i) positions[i] = i;
    const std::vector<KvCache*> same(prompt.size(), caches[b]);
    const int64_t last[] = {n_prompt - 1};
    forward_rows(w, scratch, prompt, positions, same, last);
    const float* logits = scratch.logits.get();
    next[b] = static_cast<int32_t>(std::max_element(logits, logits + c.n_vocab) - logits);
  }
  std::vector<int64_t> positions(static_cast<size_t>(batch), n_prompt), rows(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b) rows[b] = b;
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < n_gen; ++step) {
    forward_rows(w, scratch, next, positions, caches, rows);
    for (int b = 0; b < batch; ++b) {
      const float* logits = scratch.logits.get() + static_cast<int64_t>(b) * c.n_vocab;
      next[b] = static_cast<int32_t>(std::max_element(logits, logits + c.n_vocab) - logits);
      ++positions[b];
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return batch * n_gen / seconds;
}

}  // namespace tern
