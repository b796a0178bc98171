#pragma once
// Keys and values of every executed layer (shared blocks get one slot per run).
#include <cstdint>
#include <memory>

namespace tern {

struct KvCache {
  int64_t n_layers = 0;
  int64_t n_ctx = 0;
  int64_t kv_dim = 0;  // n_kv_heads * head_dim
  // Left uninitialized: a position is always written before it is read, and untouched
  // pages never become resident, so a cache sized for the whole context costs only what
  // its sequence uses (a batch of 16 sequences at 2048 positions would otherwise zero
  // 1.5 GB up front on the 125M shape).
  std::unique_ptr<float[]> k;  // [n_layers, n_ctx, n_kv_heads, head_dim]
  std::unique_ptr<float[]> v;  // [n_layers, n_ctx, n_kv_heads, head_dim]

  KvCache(int64_t layers, int64_t ctx, int64_t kv_width)
      : n_layers(layers), n_ctx(ctx), kv_dim(kv_width),
        k(new float[static_cast<size_t>(layers * ctx * kv_width)]),
        v(new float[static_cast<size_t>(layers * ctx * kv_width)]) {}

  float* key(int64_t layer, int64_t pos) { return k.get() + (layer * n_ctx + pos) * kv_dim; }
  float* value(int64_t layer, int64_t pos) { return v.get() + (layer * n_ctx + pos) * kv_dim; }
  uint64_t bytes() const { return static_cast<uint64_t>(2 * n_layers * n_ctx * kv_dim) * sizeof(float); }
};

}  // namespace tern
