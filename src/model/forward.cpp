#include "model/forward.h"

#include <algorithm>
#include <cmath>

#include "kernels/dequantize.h"
#include "kernels/matvec_ref.h"

namespace tern {
namespace {

int64_t max_linear_input(const ModelConfig& c) { return std::max({c.dim, c.q_dim(), c.ffn}); }

int64_t max_row_sums(const ModelWeights& w) {
  int64_t most = 0;
  for (const auto& b : w.blocks)
    for (const Linear* l : {&b.attn_q, &b.attn_k, &b.attn_v, &b.attn_output, &b.ffn_gate, &b.ffn_up, &b.ffn_down})
      if (l->ternary) most = std::max(most, l->packed.n_rows * l->packed.groups_per_row());
  return most;
}

// sqrt(mean(x^2) + eps)
float root_mean_square(std::span<const float> x, float eps) {
  double sum_sq = 0;
  for (float v : x) sum_sq += static_cast<double>(v) * v;
  return std::sqrt(static_cast<float>(sum_sq / static_cast<double>(x.size())) + eps);
}

// out_i = w_i * x_i / sqrt(mean(x^2) + eps)
void rmsnorm(std::span<const float> x, std::span<const float> weight, float eps, float* out) {
  const float inv = 1.0f / root_mean_square(x, eps);
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv * weight[i];
}

// A norm that may be absent from the file: then the input passes through unchanged.
std::span<const float> optional_norm(std::span<const float> x, const std::vector<float>& weight, float eps,
                                     float* out) {
  if (weight.empty()) return x;
  rmsnorm(x, weight, eps, out);
  return {out, x.size()};
}

// Rotates adjacent pairs of every head by position-dependent angles.
void rope(float* vec, int64_t n_heads, int64_t head_dim, int64_t pos, float base) {
  for (int64_t j = 0; j < head_dim / 2; ++j) {
    const double freq = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(j) / static_cast<double>(head_dim));
    const double angle = static_cast<double>(pos) * freq;
    const float cos_a = static_cast<float>(std::cos(angle));
    const float sin_a = static_cast<float>(std::sin(angle));
    for (int64_t h = 0; h < n_heads; ++h) {
      float* pair = vec + h * head_dim + 2 * j;
      const float a = pair[0], b = pair[1];
      pair[0] = a * cos_a - b * sin_a;
      pair[1] = a * sin_a + b * cos_a;
    }
  }
}

// Quantizes the input that one or more ternary linears will read (BitNet: per token,
// absmax int8). The optional weightless in-linear norm divides x by its RMS, which does
// not change the int8 values, only their scale: so it is folded into the scale instead
// of rounding every element once more.
void quantize_linear_input(const ModelConfig& c, std::span<const float> x, ForwardScratch& s) {
  quantize_activations(x, s.act);
  if (c.linear_norm) s.act.scale /= root_mean_square(x, c.linear_norm_eps);
}

// y = W x; ternary linears read the quantized s.act, float linears read x itself.
void apply_linear(const Linear& l, std::span<const float> x, ForwardScratch& s, float* y) {
  if (l.ternary) ternary_matvec_ref(l.packed, s.act, s.row_sums.data(), y);
  else float_matvec_ref(l.dense.type, l.dense.data, l.n_in, l.n_out, x.data(), s.row.data(), y);
}

// Causal grouped-query attention of the token at `pos` over positions 0..pos.
void attention(const ModelConfig& c, ForwardScratch& s, int64_t layer, int64_t pos) {
  const int64_t group = c.n_heads / c.n_kv_heads;
  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  for (int64_t h = 0; h < c.n_heads; ++h) {
    const float* q = s.q.data() + h * c.head_dim;
    const int64_t kv_offset = (h / group) * c.head_dim;
    float max_score = -INFINITY;
    for (int64_t t = 0; t <= pos; ++t) {
      const float* k = s.cache.key(layer, t) + kv_offset;
      float dot = 0;
      for (int64_t i = 0; i < c.head_dim; ++i) dot += q[i] * k[i];
      s.scores[t] = dot * inv_sqrt_d;
      max_score = std::max(max_score, s.scores[t]);
    }
    float total = 0;
    for (int64_t t = 0; t <= pos; ++t) total += s.scores[t] = std::exp(s.scores[t] - max_score);
    float* out = s.attn_out.data() + h * c.head_dim;
    std::fill(out, out + c.head_dim, 0.0f);
    for (int64_t t = 0; t <= pos; ++t) {
      const float* v = s.cache.value(layer, t) + kv_offset;
      const float a = s.scores[t] / total;
      for (int64_t i = 0; i < c.head_dim; ++i) out[i] += a * v[i];
    }
  }
}

void attention_sublayer(const ModelWeights& w, const BlockWeights& b, ForwardScratch& s, int64_t layer, int64_t pos) {
  const ModelConfig& c = w.config;
  const auto h = optional_norm(s.x, b.attn_norm, c.rms_eps, s.normed.data());
  quantize_linear_input(c, h, s);
  apply_linear(b.attn_q, h, s, s.q.data());
  apply_linear(b.attn_k, h, s, s.k.data());
  apply_linear(b.attn_v, h, s, s.v.data());
  rope(s.q.data(), c.n_heads, c.head_dim, pos, c.rope_base);
  rope(s.k.data(), c.n_kv_heads, c.head_dim, pos, c.rope_base);
  std::copy(s.k.begin(), s.k.end(), s.cache.key(layer, pos));
  std::copy(s.v.begin(), s.v.end(), s.cache.value(layer, pos));
  attention(c, s, layer, pos);
  const auto o = optional_norm(s.attn_out, b.attn_sub_norm, c.rms_eps, s.normed.data());
  quantize_linear_input(c, o, s);
  apply_linear(b.attn_output, o, s, s.proj.data());
  for (int64_t i = 0; i < c.dim; ++i) s.x[i] += s.proj[i];
}

float activate(FfnActivation act, float z) {
  if (act == FfnActivation::Relu2) {
    const float r = std::max(z, 0.0f);
    return r * r;
  }
  return z / (1.0f + std::exp(-z));
}

void ffn_sublayer(const ModelWeights& w, const BlockWeights& b, ForwardScratch& s) {
  const ModelConfig& c = w.config;
  const auto h = optional_norm(s.x, b.ffn_norm, c.rms_eps, s.normed.data());
  quantize_linear_input(c, h, s);
  apply_linear(b.ffn_gate, h, s, s.gate.data());
  apply_linear(b.ffn_up, h, s, s.up.data());
  for (int64_t i = 0; i < c.ffn; ++i) s.gate[i] = activate(c.activation, s.gate[i]) * s.up[i];
  const auto m = optional_norm(s.gate, b.ffn_sub_norm, c.rms_eps, s.normed.data());
  quantize_linear_input(c, m, s);
  apply_linear(b.ffn_down, m, s, s.proj.data());
  for (int64_t i = 0; i < c.dim; ++i) s.x[i] += s.proj[i];
}

}  // namespace

ForwardScratch::ForwardScratch(const ModelWeights& w, int64_t n_ctx)
    : cache(w.config.n_layers(), n_ctx, w.config.kv_dim()),
      x(w.config.dim),
      normed(max_linear_input(w.config)),
      q(w.config.q_dim()),
      k(w.config.kv_dim()),
      v(w.config.kv_dim()),
      attn_out(w.config.q_dim()),
      scores(n_ctx),
      gate(w.config.ffn),
      up(w.config.ffn),
      proj(w.config.dim),
      logits(w.config.n_vocab),
      row(max_linear_input(w.config)),
      row_sums(max_row_sums(w)) {
  act.q.reserve(max_linear_input(w.config));
}

void forward_token(const ModelWeights& w, ForwardScratch& s, int32_t token, int64_t pos, bool want_logits) {
  const ModelConfig& c = w.config;
  dequantize_row(w.token_embd.type, w.token_embd.row(token), s.x.data(), c.dim);
  for (int64_t layer = 0; layer < c.n_layers(); ++layer) {
    const BlockWeights& b = w.block_of_layer(layer);
    attention_sublayer(w, b, s, layer, pos);
    ffn_sublayer(w, b, s);
  }
  if (!want_logits) return;
  rmsnorm(s.x, w.output_norm, c.rms_eps, s.normed.data());
  float_matvec_ref(w.output.type, w.output.data, c.dim, c.n_vocab, s.normed.data(), s.row.data(), s.logits.data());
}

}  // namespace tern
