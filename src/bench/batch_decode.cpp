#include "tern/bench.h"

#include <algorithm>
#include <chrono>

#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model_internals.h"
#include "model/multi_forward.h"

namespace tern {

struct BatchDecodeBench::State {
  const Model& model_;
  int batch_;
  int n_prompt_;
  int max_gen_;
  ForwardScratch scratch_;
  std::vector<std::unique_ptr<KvCache>> caches_;  // one per sequence

  double tokens_per_second(int n_gen);
};

BatchDecodeBench::BatchDecodeBench(const Model& model, int batch, int n_prompt, int max_gen, KvType kv_type)
    : state_(new State{model,
                       batch,
                       n_prompt,
                       max_gen,
                       ForwardScratch(weights_of(model), n_prompt + max_gen + 1, std::max(batch, n_prompt), kv_type),
                       {}}) {
  const ModelConfig& c = model.config();
  for (int b = 0; b < batch; ++b) {
    state_->caches_.push_back(
        std::make_unique<KvCache>(c.n_layers(), state_->scratch_.cache.n_ctx, c.kv_dim(), kv_type));
    state_->caches_.back()->prefault();
  }
}

BatchDecodeBench::~BatchDecodeBench() = default;

double BatchDecodeBench::tokens_per_second(int n_gen) { return state_->tokens_per_second(n_gen); }

double BatchDecodeBench::State::tokens_per_second(int n_gen) {
  const ModelWeights& w = weights_of(model_);
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
    for (int i = 0; i < n_prompt_; ++i) prompt[i] = static_cast<int32_t>((1 + b * 131 + i * 17) % n_vocab);
    prefill_sequence(w, scratch_, prompt, 0, caches_[b].get());
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
