#pragma once
// The reference forward pass (docs/FORMAT.md section 4): embed -> blocks -> norm -> head.
#include <vector>

#include "kernels/activation_quant.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace tern {

// Every buffer one token's forward pass needs, allocated once per Context.
struct ForwardScratch {
  explicit ForwardScratch(const ModelWeights& w, int64_t n_ctx);

  KvCache cache;
  std::vector<float> x;           // [dim] residual stream
  std::vector<float> normed;      // [max(dim, q_dim, ffn)] normalized input of a sub-layer
  std::vector<float> q;           // [n_heads, head_dim]
  std::vector<float> k;           // [n_kv_heads, head_dim]
  std::vector<float> v;           // [n_kv_heads, head_dim]
  std::vector<float> attn_out;    // [n_heads, head_dim]
  std::vector<float> scores;      // [n_ctx] attention weights of one head
  std::vector<float> gate;        // [ffn]
  std::vector<float> up;          // [ffn]
  std::vector<float> proj;        // [dim] output of attn_output / ffn_down
  std::vector<float> logits;      // [n_vocab]
  std::vector<float> row;         // [max n_in] one dequantized weight row
  QuantizedActivations act;       // int8 activations shared by the linears of one input
  std::vector<int32_t> row_sums;  // [max rows * groups] integer sums of a ternary product
};

// Runs token `token` at position `pos` through every layer, filling the KV cache at
// `pos`. When `want_logits` is false the LM head is skipped (prompt tokens but the last).
void forward_token(const ModelWeights& w, ForwardScratch& s, int32_t token, int64_t pos, bool want_logits);

}  // namespace tern
