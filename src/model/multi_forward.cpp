#include "model/multi_forward.h"

#include "tern/error.h"

namespace tern {

std::span<const float> forward_multi(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens,
                                     std::span<const int64_t> positions, std::span<KvCache* const> caches,
                                     std::span<const int64_t> logit_rows) {
  const ModelConfig& c = w.config;
  const auto n_tok = static_cast<int64_t>(tokens.size());
  if (n_tok == 0 || n_tok > s.max_batch) fail("a forward pass takes 1..{} rows, got {}", s.max_batch, n_tok);
  if (positions.size() != tokens.size() || caches.size() != tokens.size())
    fail("forward pass: {} tokens but {} positions and {} caches", tokens.size(), positions.size(), caches.size());
  if (static_cast<int64_t>(logit_rows.size()) > n_tok) fail("forward pass: more logit rows than rows");
  for (int64_t t = 0; t < n_tok; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.n_vocab)
      fail("token id {} is outside the vocabulary (0..{})", tokens[t], c.n_vocab - 1);
    const KvCache* cache = caches[t];
    if (cache == nullptr || cache->n_layers != c.n_layers() || cache->kv_dim != c.kv_dim() ||
        cache->n_ctx > s.cache.n_ctx)
      fail("forward pass: row {} has no KV cache of this model's shape", t);
    if (positions[t] < 0 || positions[t] >= cache->n_ctx)
      fail("forward pass: position {} is outside the context of {}", positions[t], cache->n_ctx);
  }
  for (int64_t r : logit_rows)
    if (r < 0 || r >= n_tok) fail("forward pass: logit row {} is not one of the {} rows", r, n_tok);
  forward_rows(w, s, tokens, positions, caches, logit_rows);
  return {s.logits.get(), logit_rows.size() * static_cast<size_t>(c.n_vocab)};
}

}  // namespace tern
