#pragma once
// The forward pass over a batch whose rows may belong to different sequences: row i
// runs token tokens[i] at position positions[i] of the sequence whose KV cache is
// caches[i]. The linears run as one batched product over every row (each weight read
// once per batch), attention runs per row over that row's own cache. The kernels
// compute each row independently, so a row's results are bit-identical whatever
// other rows share its batch. forward_batch (one sequence, consecutive positions) is
// this with every row pointing at the scratch's own cache.
//
// Rows of the same sequence must come in increasing consecutive positions (a prompt
// chunk); every cache must be [n_layers, n_ctx <= scratch's n_ctx, kv_dim].
#include <cstdint>
#include <span>

#include "model/forward.h"

namespace tern {

// Unchecked: the caller guarantees the above. After it, logits row i (of
// logit_rows.size() rows, [n_vocab] each) holds the logits after row logit_rows[i].
void forward_rows(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens,
                  std::span<const int64_t> positions, std::span<KvCache* const> caches,
                  std::span<const int64_t> logit_rows);

}  // namespace tern
