#pragma once
// Keys and values of every executed layer (shared blocks get one slot per run).
#include <cstdint>
#include <vector>

namespace tern {

struct KvCache {
  int64_t n_layers = 0;
  int64_t n_ctx = 0;
  int64_t kv_dim = 0;    // n_kv_heads * head_dim
  std::vector<float> k;  // [n_layers, n_ctx, n_kv_heads, head_dim]
  std::vector<float> v;  // [n_layers, n_ctx, n_kv_heads, head_dim]

  KvCache(int64_t layers, int64_t ctx, int64_t kv_width)
      : n_layers(layers), n_ctx(ctx), kv_dim(kv_width),
        k(static_cast<size_t>(layers * ctx * kv_width)), v(static_cast<size_t>(layers * ctx * kv_width)) {}

  float* key(int64_t layer, int64_t pos) { return k.data() + (layer * n_ctx + pos) * kv_dim; }
  float* value(int64_t layer, int64_t pos) { return v.data() + (layer * n_ctx + pos) * kv_dim; }
  uint64_t bytes() const { return (k.size() + v.size()) * sizeof(float); }
};

}  // namespace tern
