#pragma once
// Perplexity of a model over a token sequence with a sliding window, as
// llama-perplexity and the Hugging Face guide compute it:
//   windows of `context` tokens start every `stride` tokens; each window starts from an
//   empty cache and scores only the targets no earlier window scored (the first window
//   scores every token after the first); the last window is the one reaching the end.
// ppl = exp(mean negative log-likelihood over all scored targets).
#include <cstdint>
#include <functional>
#include <span>

#include "tern/model.h"

namespace tern {

struct PerplexityResult {
  double perplexity = 0;
  double mean_nll = 0;
  int64_t n_scored = 0;
  int64_t n_windows = 0;
  int64_t n_evaluated = 0;  // tokens run through the model (windows overlap)
  double seconds = 0;
};

// `progress(done, total)` is called after each window (may be empty); kv_type: the
// element type of the windows' KV cache.
PerplexityResult compute_perplexity(const Model& model, std::span<const int32_t> tokens, int64_t context,
                                    int64_t stride, KvType kv_type = KvType::F32,
                                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace tern
