#include "bench/batch_decode.h"

#include <algorithm>
#include <chrono>

#include "model/multi_forward.h"

namespace tern {

BatchDecodeBench::BatchDecodeBench(const Model& model, int batch, int n_prompt, int max_gen, KvType kv_type)
    : model_(model),
      batch_(batch),
      n_prompt_(n_prompt),
      max_gen_(max_gen),
      scratch_(model.weights(), n_prompt + max_gen + 1, std::max(batch, n_prompt), kv_type) {
  const ModelConfig& c = model.config();
  for (int b = 0; b < batch; ++b) {
    caches_.push_back(std::make_unique<KvCache>(c.n_layers(), scratch_.cache.n_ctx, c.kv_dim(), kv_type));
    caches_.back()->prefault();
  }
}

double BatchDecodeBench::tokens_per_second(int n_gen) {
  const ModelWeights& w = model_.weights();
  const int64_t n_vocab = model_.config().n_vocab;
  n_gen = std::min(n_gen, max_gen_);
  auto greedy = [&](int64_t row) {
    const float* logits = scratch_.logits.get() + row * n_vocab;
    return static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
  };
  // Distinct prompts, so the sequences diverge like real requests.
  std::vector<int32_t> next(static_cast<size_t>(batch_));
  std::vector<KvCache*> caches;
  for (int b = 0; b < batch_; ++b) {
    std::vector<int32_t> prompt(static_cast<size_t>(n_prompt_));
    std::vector<int64_t> positions(prompt.size());
    for (int i = 0; i < n_prompt_; ++i) {
      prompt[i] = static_cast<int32_t>((1 + b * 131 + i * 17) % n_vocab);
      positions[i] = i;
    }
    const std::vector<KvCache*> same(prompt.size(), caches_[b].get());
    const int64_t last[] = {n_prompt_ - 1};
    forward_rows(w, scratch_, prompt, positions, same, last);
    next[b] = greedy(0);
    caches.push_back(caches_[b].get());
  }
  std::vector<int64_t> positions(static_cast<size_t>(batch_), n_prompt_), rows(static_cast<size_t>(batch_));
  for (int b = 0; b < batch_; ++b) rows[b] = b;
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < n_gen; ++step) {
    forward_rows(w, scratch_, next, positions, caches, rows);
    for (int b = 0; b < batch_; ++b) {
      next[b] = greedy(b);
      ++positions[b];
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return batch_ * n_gen / seconds;
}

}  // namespace tern
