#pragma once
// The forward pass (docs/FORMAT.md section 4): embed -> blocks -> norm -> head, for a
// batch of consecutive tokens of one sequence at once, so that prompt processing reads
// each weight once per batch instead of once per token. The kernels (scalar, AVX2,
// AVX-512) and the thread pool come from the model.
#include <memory>
#include <span>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace tern {

// Every buffer a forward pass needs, allocated once per Context.
struct ForwardScratch {
  ForwardScratch(const ModelWeights& w, int64_t n_ctx, int64_t max_batch, KvType kv_type = KvType::F32);

  int64_t max_batch;
  int64_t max_in;         // widest linear input
  int64_t max_in_padded;  // widest ternary input, padded to 64
  int64_t prepared_stride;  // bytes of one token's prepared activations for the widest input
  KvCache cache;
  std::vector<float> x;         // [max_batch, dim] residual stream
  std::vector<float> normed;    // [max_batch, max_in] normalized input of a sub-layer
  std::vector<float> q;         // [max_batch, n_heads * head_dim]
  std::vector<float> k;         // [max_batch, n_kv_heads * head_dim]
  std::vector<float> v;         // [max_batch, n_kv_heads * head_dim]
  std::vector<float> attn_out;  // [max_batch, n_heads * head_dim]
  std::vector<float> gate;      // [max_batch, ffn]
  std::vector<float> up;        // [max_batch, ffn]
  std::vector<float> proj;      // [max_batch, dim] output of attn_output / ffn_down
  // [max_batch, n_vocab]; left uninitialized so that rows only perplexity writes (all
  // but the first) never become resident memory during plain generation.
  std::unique_ptr<float[]> logits;
  std::vector<float> scores;    // [n_threads, n_heads / n_kv_heads, n_ctx] attention weights of a head group
  std::vector<float> rope_cos;  // [n_ctx, head_dim / 2] cos(pos * base^(-2j / head_dim))
  std::vector<float> rope_sin;  // [n_ctx, head_dim / 2]
  AlignedBuffer<int8_t> act_q;         // [max_batch, max_in_padded] int8 activations, zero padded
  AlignedBuffer<int8_t> act_prepared;  // [max_batch, prepared_stride] in the kernel's format
  // Each thread's own tables for row-split products of up to kOwnTableTokens tokens.
  static constexpr int64_t kOwnTableTokens = 4;
  AlignedBuffer<int8_t> thread_tables;  // [n_threads, kOwnTableTokens, prepared_stride] (empty for 1 thread)
  std::vector<float> act_scale;        // [max_batch]
  std::vector<int64_t> row_positions;  // [max_batch] forward_batch's per-row places, reused
  std::vector<KvCache*> row_caches;    // [max_batch]
  std::vector<int64_t> logit_rows;     // [max_batch]
};

enum class Logits { None, Last, All };

// Runs tokens at positions pos, pos+1, ... (tokens.size() <= max_batch), filling the KV
// cache. Logits::Last leaves the last token's logits in logits[0..n_vocab); All leaves
// every token's, row by row.
void forward_batch(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens, int64_t pos,
                   Logits logits);

}  // namespace tern
