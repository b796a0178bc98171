#pragma once
// Attention of one query head over positions 0..n_pos-1 of its key/value head: the
// algorithm once, instantiated by each instruction-set file with its own inlined dot and
// axpy (Rows::dot(q, row, n), Rows::axpy(a, row, out, n), templates over the row's
// element: float or IEEE half, as the KV cache stores it), so the per-position work is
// not a function call through the kernel table.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/kv_rows.h"

namespace tern {

// out[0..head_dim) = sum_p softmax(q . k_p * scale)_p v_p; keys and values of position p
// start at keys.row_as<Element>(p) and values.row_as<Element>(p); scores holds n_pos
// floats.
template <typename Rows, typename Element>
inline void attention_head_impl(const float* q, KvRows keys, KvRows values, int64_t n_pos, int64_t head_dim,
                                float scale, float* scores, float* out) {
  float max_score = -INFINITY;
  for (int64_t p = 0; p < n_pos; ++p) {
    scores[p] = Rows::dot(q, keys.row_as<Element>(p), head_dim) * scale;
    max_score = std::max(max_score, scores[p]);
  }
  float total = 0;
  for (int64_t p = 0; p < n_pos; ++p) total += scores[p] = std::exp(scores[p] - max_score);
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t p = 0; p < n_pos; ++p) Rows::axpy(scores[p] / total, values.row_as<Element>(p), out, head_dim);
}

// The same for n_heads query heads sharing one KV head (grouped-query attention): q,
// out are [n_heads, head_dim], scores [n_heads, n_pos]. The cache's type picks the rows'
// element type.
template <typename Rows>
inline void attention_heads_impl(const float* q, int64_t n_heads, KvRows keys, KvRows values, int64_t n_pos,
                                 int64_t head_dim, float scale, float* scores, float* out) {
  for (int64_t h = 0; h < n_heads; ++h) {
    const float* qh = q + h * head_dim;
    float* oh = out + h * head_dim;
    float* sh = scores + h * n_pos;
    if (keys.type == KvType::F16) attention_head_impl<Rows, uint16_t>(qh, keys, values, n_pos, head_dim, scale, sh, oh);
    else attention_head_impl<Rows, float>(qh, keys, values, n_pos, head_dim, scale, sh, oh);
  }
}

}  // namespace tern
