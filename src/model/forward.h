#pragma once
// The forward pass (docs/FORMAT.md section 4): embed -> blocks -> norm -> head, for a
// batch of consecutive tokens of one sequence at once, so that prompt processing reads
// each weight once per batch instead of once per token. The kernels (scalar, AVX2,
// AVX-512) come from the model, the thread pool from the scratch (the Context).
#include <memory>
#include <span>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/thread_pool.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace tern {

// Every buffer a forward pass needs, allocated once per Context.
struct ForwardScratch {
  // threads: the pool's size, the caller included (0: the model's default).
  ForwardScratch(const ModelWeights& w, int64_t n_ctx, int64_t max_batch, KvType kv_type = KvType::F32,
                 int threads = 0);

  // The threads that run this scratch's passes: its own, so that contexts of one model
  // run at the same time on different threads.
  std::unique_ptr<ThreadPool> pool;
  int64_t max_batch;
  int64_t max_in;           // widest linear input
  int64_t max_in_padded;    // widest ternary input, padded to 64
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
  std::vector<float> scores;           // [n_threads, n_heads / n_kv_heads, n_ctx] attention weights of a head group
  std::vector<float> rope_cos;         // [n_ctx, head_dim / 2] cos(pos * base^(-2j / head_dim))
  std::vector<float> rope_sin;         // [n_ctx, head_dim / 2]
  AlignedBuffer<int8_t> act_q;         // [max_batch, max_in_padded] int8 activations, zero padded
  AlignedBuffer<int8_t> act_prepared;  // [max_batch, prepared_stride] in the kernel's format
  // Each thread's own tables for row-split products of up to kOwnTableTokens tokens.
  static constexpr int64_t kOwnTableTokens = 4;
  AlignedBuffer<int8_t> thread_tables;  // [n_threads, kOwnTableTokens, prepared_stride] (empty for 1 thread)
  std::vector<float> act_scale;         // [max_batch]
  std::vector<int64_t> row_positions;   // [max_batch] forward_batch's per-row places, reused
  std::vector<KvCache*> row_caches;     // [max_batch]
  std::vector<int64_t> logit_rows;      // [max_batch]
  std::vector<KvCache*> sorted_caches;  // [max_batch] runs_data_parallel's distinctness check
};

enum class Logits { None, Last, All };

// Runs tokens at positions pos, pos+1, ... (tokens.size() <= max_batch), filling the KV
// cache. Logits::Last leaves the last token's logits in logits[0..n_vocab); All leaves
// every token's, row by row.
// `cache`: the sequence's KV cache; null: the scratch's own.
void forward_batch(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens, int64_t pos,
                   Logits logits, KvCache* cache = nullptr);

// A whole prompt of one sequence: tokens at positions pos, pos+1, ... in passes of up to
// max_batch tokens (the one place prompts are chunked: Context, BatchRunner and the
// batch benchmark all prefill through it). Leaves the logits after the last token in
// logits[0..n_vocab). `cache` as for forward_batch; tokens must not be empty.
void prefill_sequence(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens, int64_t pos,
                      KvCache* cache = nullptr);

}  // namespace tern
