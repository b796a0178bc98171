#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/dequantize.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"
#include "model/multi_forward.h"
#include "model/schedule.h"

namespace tern {
namespace {

int64_t max_linear_input(const ModelConfig& c) { return std::max({c.dim, c.q_dim(), c.ffn}); }

// sqrt(mean(x^2) + eps)
float root_mean_square(const float* x, int64_t n, float eps) {
  double sum_sq = 0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  return std::sqrt(static_cast<float>(sum_sq / static_cast<double>(n)) + eps);
}

// out_i = w_i * x_i / sqrt(mean(x^2) + eps) over one row of width n.
void rmsnorm_row(const float* x, const std::vector<float>& weight, float eps, int64_t n, float* out) {
  const float inv = 1.0f / root_mean_square(x, n, eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

// Rotates adjacent pairs of rows [begin, end) of one token's heads (begin even) by the
// angles of one position (from the table); the pair (2j, 2j + 1) of a head turns by
// angle j.
void rope_rows(float* vec, int64_t begin, int64_t end, int64_t head_dim, const float* cos_pos, const float* sin_pos) {
  for (int64_t r = begin; r + 1 < end; r += 2) {
    const int64_t j = (r % head_dim) / 2;
    const float a = vec[r], b = vec[r + 1];
    vec[r] = a * cos_pos[j] - b * sin_pos[j];
    vec[r + 1] = a * sin_pos[j] + b * cos_pos[j];
  }
}

// cos and sin of pos * base^(-2j / head_dim) for every position of the context, computed
// once (in double) instead of per token, layer and head.
void fill_rope_tables(const ModelConfig& c, int64_t n_ctx, std::vector<float>& cos_table,
                      std::vector<float>& sin_table) {
  const int64_t half = c.head_dim / 2;
  cos_table.resize(static_cast<size_t>(n_ctx * half));
  sin_table.resize(cos_table.size());
  for (int64_t j = 0; j < half; ++j) {
    const double freq =
        std::pow(static_cast<double>(c.rope_base), -2.0 * static_cast<double>(j) / static_cast<double>(c.head_dim));
    for (int64_t pos = 0; pos < n_ctx; ++pos) {
      const double angle = static_cast<double>(pos) * freq;
      cos_table[pos * half + j] = static_cast<float>(std::cos(angle));
      sin_table[pos * half + j] = static_cast<float>(std::sin(angle));
    }
  }
}

bool any_ternary(std::initializer_list<const Linear*> linears) {
  for (const Linear* l : linears)
    if (l->ternary) return true;
  return false;
}

// A sub-layer's input, per token: the optional norm (absent from the file: the input
// passes through), then, when a linear reading it is ternary, the int8 activations
// (BitNet: per token, absmax) in the kernel's format. The optional weightless
// in-linear norm divides x by its RMS, which does not change the int8 values, only
// their scale: it is folded into the scale. Tokens are split between the threads, so a
// prompt or batch has no serial step between its products.
struct SubLayerInput {
  const float* x;          // [n_tok, n] what dense linears read
  int64_t n;               // input width
  bool ternary;            // some linear reading it is ternary: int8 rows in act_q
  bool own_tables;         // each thread builds its tables itself (tables_per_thread)
  PreparedActivations qx;  // the shared tables ternary linears read (empty otherwise)
};

SubLayerInput prepare_input(const ModelWeights& w, ForwardScratch& s, const Executor& ex, const float* x,
                            const std::vector<float>& norm, int64_t n, bool ternary) {
  const KernelTable& k = *w.kernels;
  const ModelConfig& c = w.config;
  const float* in = norm.empty() ? x : s.normed.data();
  const int64_t n_pad = padded_to_chunks(n);
  const bool own_tables = ternary && tables_per_thread(ex);
  auto prepare_tokens = [&](int index, int count) {
    const Range tokens = ex.part(index, count);
    for (int64_t t = tokens.begin; t < tokens.end; ++t) {
      if (!norm.empty()) rmsnorm_row(x + t * n, norm, c.rms_eps, n, s.normed.data() + t * n);
      if (!ternary) continue;
      int8_t* q = s.act_q.data() + t * s.max_in_padded;
      s.act_scale[t] = k.quantize_row(in + t * n, n, q);
      std::memset(q + n, 0, static_cast<size_t>(n_pad - n));
      if (c.linear_norm) s.act_scale[t] /= root_mean_square(in + t * n, n, c.linear_norm_eps);
      if (!own_tables) k.prepare_ternary(q, n, s.act_prepared.data() + t * s.prepared_stride);
    }
  };
  if (ex.tokens.end - ex.tokens.begin > 1) ex.run(prepare_tokens);
  else prepare_tokens(0, 1);
  if (!ternary || own_tables) return {in, n, ternary, own_tables, {}};
  return {in, n, true, false, {s.act_prepared.data(), s.act_scale.data(), s.prepared_stride, ex.tokens.end}};
}

// The tables of the share's tokens that thread `index` reads: the shared ones, or its
// own copy built now from the int8 rows.
PreparedActivations tables_of_share(const ModelWeights& w, ForwardScratch& s, const SubLayerInput& in,
                                    const Share& share, int index) {
  const int64_t t0 = share.tokens.begin, n_tok = share.tokens.end - share.tokens.begin;
  if (!in.ternary || n_tok <= 0) return {};
  if (!in.own_tables) return {in.qx.q + t0 * in.qx.stride, in.qx.scale + t0, in.qx.stride, n_tok};
  int8_t* own = s.thread_tables.data() + index * ForwardScratch::kOwnTableTokens * s.prepared_stride;
  for (int64_t t = 0; t < n_tok; ++t)
    w.kernels->prepare_ternary(s.act_q.data() + (t0 + t) * s.max_in_padded, in.n, own + t * s.prepared_stride);
  return {own, s.act_scale.data() + t0, s.prepared_stride, n_tok};
}

// One linear's share: rows share.rows(l) of tokens share.tokens, into out[t * n_out + r];
// tables: those tokens' tables (tables_of_share).
void linear_share(const KernelTable& k, const Linear& l, const float* x, const PreparedActivations& tables,
                  const Share& share, float* out) {
  const Range rows = share.rows(l);
  const int64_t t0 = share.tokens.begin, n_tok = share.tokens.end - share.tokens.begin;
  if (rows.begin >= rows.end || n_tok <= 0) return;
  if (l.ternary) {
    k.matmul_ternary(l.packed, tables, rows.begin, rows.end, out + t0 * l.n_out, l.n_out);
  } else {
    k.matmul_dense(l.dense.type, l.dense.data, l.n_in, x + t0 * l.n_in, l.n_in, n_tok, rows.begin, rows.end,
                   out + t0 * l.n_out, l.n_out);
  }
}

struct LinearJob {
  const Linear* linear;
  float* out;  // [n_tok, n_out]
};

// Runs several linears that read the same input in one parallel region: each thread
// takes the same share of every linear, so there is one synchronization. `after(share)`
// runs on each thread's share once its products are done.
template <typename After>
void run_linears(const ModelWeights& w, ForwardScratch& s, const Executor& ex, std::initializer_list<LinearJob> jobs,
                 const SubLayerInput& in, After after) {
  ex.run([&](int index, int count) {
    const Share share = share_of(ex, index, count);
    const PreparedActivations tables = tables_of_share(w, s, in, share, ex.slot(index));
    for (const LinearJob& job : jobs) linear_share(*w.kernels, *job.linear, in.x, tables, share, job.out);
    after(share);
  });
}

// Where each row of a batch belongs: its position and its sequence's KV cache.
struct RowPlaces {
  const int64_t* pos;
  KvCache* const* cache;
};

// Causal grouped-query attention of query heads [h, h + n_heads) of one token (heads
// of one KV head) over positions 0..pos.
void attend(const ModelWeights& w, ForwardScratch& s, KvCache& cache, float* scores, int64_t layer, int64_t t,
            int64_t h, int64_t n_heads, int64_t pos) {
  const ModelConfig& c = w.config;
  const int64_t kv_offset = (h / (c.n_heads / c.n_kv_heads)) * c.head_dim;
  w.kernels->attention_heads(s.q.data() + t * c.q_dim() + h * c.head_dim, n_heads,
                             cache.key_rows(layer).offset(kv_offset), cache.value_rows(layer).offset(kv_offset),
                             pos + 1, c.head_dim, 1.0f / std::sqrt(static_cast<float>(c.head_dim)), scores,
                             s.attn_out.data() + t * c.q_dim() + h * c.head_dim);
}

// Attention of every row, in tasks of one token's query heads that share a KV head (its
// keys and values are read once for them), or of single heads when there would be too
// few tasks to keep the threads busy (one token of a model with few KV heads). Threads
// take every count-th task: a prompt's later tokens, which see more positions, are
// spread over all of them.
void attention_rows(const ModelWeights& w, ForwardScratch& s, const Executor& ex, int64_t layer,
                    const RowPlaces& rows) {
  const ModelConfig& c = w.config;
  const int64_t group = c.n_heads / c.n_kv_heads;
  const int64_t n_tok = ex.tokens.end - ex.tokens.begin;
  ex.run([&](int index, int count) {
    const int64_t heads_per_task = n_tok * c.n_kv_heads >= 4 * count ? group : 1;
    const int64_t tasks_per_token = c.n_heads / heads_per_task;
    float* scores = s.scores.data() + ex.slot(index) * group * s.cache.n_ctx;
    for (int64_t task = index; task < n_tok * tasks_per_token; task += count) {
      const int64_t t = ex.tokens.begin + task / tasks_per_token;
      attend(w, s, *rows.cache[t], scores, layer, t, (task % tasks_per_token) * heads_per_task, heads_per_task,
             rows.pos[t]);
    }
  });
}

// x += proj over this thread's share of the residual stream (what it computed itself,
// so no synchronization is needed first).
void add_residual(ForwardScratch& s, const Linear& projection, const Share& share) {
  const Range rows = share.rows(projection);
  const int64_t dim = projection.n_out;
  for (int64_t t = share.tokens.begin; t < share.tokens.end; ++t)
    for (int64_t i = rows.begin; i < rows.end; ++i) s.x[t * dim + i] += s.proj[t * dim + i];
}

// rope(q, p); rope(k, p); append k, v to the cache of the layer: each thread for its
// share of the rows of q, k and v (a row split keeps RoPE's pairs together: slices start
// at even rows).
void rope_and_append_kv(const ModelWeights& w, const BlockWeights& b, ForwardScratch& s, int64_t layer,
                        const RowPlaces& rows, const Share& share) {
  const ModelConfig& c = w.config;
  const Range q_rows = share.rows(b.attn_q), k_rows = share.rows(b.attn_k), v_rows = share.rows(b.attn_v);
  for (int64_t t = share.tokens.begin; t < share.tokens.end; ++t) {
    const int64_t pos = rows.pos[t];
    const float* cos_pos = s.rope_cos.data() + pos * (c.head_dim / 2);
    const float* sin_pos = s.rope_sin.data() + pos * (c.head_dim / 2);
    float* k = s.k.data() + t * c.kv_dim();
    const float* v = s.v.data() + t * c.kv_dim();
    rope_rows(s.q.data() + t * c.q_dim(), q_rows.begin, q_rows.end, c.head_dim, cos_pos, sin_pos);
    rope_rows(k, k_rows.begin, k_rows.end, c.head_dim, cos_pos, sin_pos);
    rows.cache[t]->store_key(layer, pos, k, k_rows.begin, k_rows.end, w.kernels->to_f16);
    rows.cache[t]->store_value(layer, pos, v, v_rows.begin, v_rows.end, w.kernels->to_f16);
  }
}

// The attention half of a layer (docs/FORMAT.md section 4):
//   h = attn_norm present ? rmsnorm(x, attn_norm) : x
//   q = Linear_q(h); k = Linear_k(h); v = Linear_v(h)
//   rope(q, p); rope(k, p); append k, v to the cache of the layer
//   o = attention of every query head over its KV head's cached positions 0..p
//   o = attn_sub_norm present ? rmsnorm(o, attn_sub_norm) : o
//   x = x + Linear_o(o)
void attention_sublayer(const ModelWeights& w, const BlockWeights& b, ForwardScratch& s, const Executor& ex,
                        int64_t layer, const RowPlaces& rows) {
  const ModelConfig& c = w.config;
  const SubLayerInput h =
      prepare_input(w, s, ex, s.x.data(), b.attn_norm, c.dim, any_ternary({&b.attn_q, &b.attn_k, &b.attn_v}));
  run_linears(w, s, ex, {{&b.attn_q, s.q.data()}, {&b.attn_k, s.k.data()}, {&b.attn_v, s.v.data()}}, h,
              [&](const Share& share) { rope_and_append_kv(w, b, s, layer, rows, share); });
  attention_rows(w, s, ex, layer, rows);
  const SubLayerInput o = prepare_input(w, s, ex, s.attn_out.data(), b.attn_sub_norm, c.q_dim(), b.attn_output.ternary);
  run_linears(w, s, ex, {{&b.attn_output, s.proj.data()}}, o,
              [&](const Share& share) { add_residual(s, b.attn_output, share); });
}

// The FFN's gating over one token's rows [begin, end): gate = act(gate) * up.
void gate_rows(const ModelWeights& w, float* gate, const float* up, Range rows) {
  if (rows.begin >= rows.end) return;
  if (w.config.activation == FfnActivation::Silu) {
    w.kernels->silu_gate(gate + rows.begin, up + rows.begin, rows.end - rows.begin);
    return;
  }
  for (int64_t i = rows.begin; i < rows.end; ++i) {  // squared ReLU
    const float r = std::max(gate[i], 0.0f);
    gate[i] = r * r * up[i];
  }
}

// The feed-forward half of a layer (docs/FORMAT.md section 4):
//   h = ffn_norm present ? rmsnorm(x, ffn_norm) : x
//   m = act(Linear_gate(h)) * Linear_up(h)
//   m = ffn_sub_norm present ? rmsnorm(m, ffn_sub_norm) : m
//   x = x + Linear_down(m)
void ffn_sublayer(const ModelWeights& w, const BlockWeights& b, ForwardScratch& s, const Executor& ex) {
  const ModelConfig& c = w.config;
  const SubLayerInput h = prepare_input(w, s, ex, s.x.data(), b.ffn_norm, c.dim, any_ternary({&b.ffn_gate, &b.ffn_up}));
  // Each thread gates what it computed itself, so no extra synchronization.
  run_linears(w, s, ex, {{&b.ffn_gate, s.gate.data()}, {&b.ffn_up, s.up.data()}}, h, [&](const Share& share) {
    for (int64_t t = share.tokens.begin; t < share.tokens.end; ++t)
      gate_rows(w, s.gate.data() + t * c.ffn, s.up.data() + t * c.ffn, share.rows(b.ffn_gate));
  });
  const SubLayerInput m = prepare_input(w, s, ex, s.gate.data(), b.ffn_sub_norm, c.ffn, b.ffn_down.ternary);
  run_linears(w, s, ex, {{&b.ffn_down, s.proj.data()}}, m,
              [&](const Share& share) { add_residual(s, b.ffn_down, share); });
}

// x = rmsnorm(x, output_norm); logits = W_head x (docs/FORMAT.md section 4), for the
// chosen rows, in that order: logits[i * n_vocab ...] is row rows[i]'s.
// Threads split the vocabulary, each taking all the rows: every weight of the head is
// read once per call, whatever the number of rows.
void lm_head(const ModelWeights& w, ForwardScratch& s, std::span<const int64_t> rows) {
  const ModelConfig& c = w.config;
  const auto n_rows = static_cast<int64_t>(rows.size());
  if (n_rows == 0) return;
  for (int64_t i = 0; i < n_rows; ++i)
    rmsnorm_row(s.x.data() + rows[i] * c.dim, w.output_norm, c.rms_eps, c.dim, s.normed.data() + i * c.dim);
  s.pool->run([&](int index, int count) {
    const Range vocab_rows = split_range(c.n_vocab, index, count, kRowGranule);
    if (vocab_rows.begin >= vocab_rows.end) return;
    if (w.output_groups)
      w.kernels->matmul_q8_groups(*w.output_groups, s.normed.data(), c.dim, n_rows, vocab_rows.begin, vocab_rows.end,
                                  s.logits.get(), c.n_vocab);
    else
      w.kernels->matmul_dense(w.output.type, w.output.data, c.dim, s.normed.data(), c.dim, n_rows, vocab_rows.begin,
                              vocab_rows.end, s.logits.get(), c.n_vocab);
  });
}

// The rows of the executor through every layer.
// One executed layer l, running stored block l / block_repeat.
void layer(const ModelWeights& w, ForwardScratch& s, const Executor& ex, int64_t l, const RowPlaces& rows) {
  const BlockWeights& b = w.block_of_layer(l);
  attention_sublayer(w, b, s, ex, l, rows);
  ffn_sublayer(w, b, s, ex);
}

// x = token_embd[token] (dequantized to f32), then every layer, for the executor's rows.
void run_layers(const ModelWeights& w, ForwardScratch& s, const Executor& ex, std::span<const int32_t> tokens,
                const RowPlaces& rows) {
  const ModelConfig& c = w.config;
  for (int64_t t = ex.tokens.begin; t < ex.tokens.end; ++t)
    dequantize_row(w.token_embd.type, w.token_embd.row(tokens[t]), s.x.data() + t * c.dim, c.dim);
  for (int64_t l = 0; l < c.n_layers(); ++l) layer(w, s, ex, l, rows);
}

}  // namespace

ForwardScratch::ForwardScratch(const ModelWeights& w, int64_t n_ctx, int64_t batch, KvType kv_type, int threads)
    : pool(std::make_unique<ThreadPool>(threads > 0 ? threads : w.threads)),
      max_batch(batch),
      max_in(max_linear_input(w.config)),
      max_in_padded(padded_to_chunks(max_linear_input(w.config))),
      prepared_stride(w.kernels->prepared_bytes(max_linear_input(w.config))),
      cache(w.config.n_layers(), n_ctx, w.config.kv_dim(), kv_type),
      x(batch * w.config.dim),
      normed(batch * max_in),
      q(batch * w.config.q_dim()),
      k(batch * w.config.kv_dim()),
      v(batch * w.config.kv_dim()),
      attn_out(batch * w.config.q_dim()),
      gate(batch * w.config.ffn),
      up(batch * w.config.ffn),
      proj(batch * w.config.dim),
      logits(new float[static_cast<size_t>(batch * w.config.n_vocab)]),
      scores(static_cast<size_t>(pool->size() * w.config.n_heads / w.config.n_kv_heads * n_ctx)),
      act_q(batch * max_in_padded),
      act_prepared(batch * prepared_stride),
      thread_tables(pool->size() > 1 ? pool->size() * kOwnTableTokens * prepared_stride : 0),
      act_scale(batch) {
  fill_rope_tables(w.config, n_ctx, rope_cos, rope_sin);
  row_positions.reserve(static_cast<size_t>(batch));
  row_caches.reserve(static_cast<size_t>(batch));
  logit_rows.reserve(static_cast<size_t>(batch));
  sorted_caches.reserve(static_cast<size_t>(batch));
}

void forward_rows(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens,
                  std::span<const int64_t> positions, std::span<KvCache* const> caches,
                  std::span<const int64_t> logit_rows) {
  const auto n_tok = static_cast<int64_t>(tokens.size());
  const RowPlaces rows{positions.data(), caches.data()};
  // Independent sequences go through the layers one share per thread with no
  // synchronization; the head then splits the vocabulary over the threads for all rows
  // (each thread's rows alone would read the whole head once per thread).
  if (runs_data_parallel(s, caches))
    s.pool->run([&](int index, int count) {
      run_layers(w, s, Executor{nullptr, split_range(n_tok, index, count), index}, tokens, rows);
    });
  else run_layers(w, s, Executor{s.pool.get(), {0, n_tok}, 0}, tokens, rows);
  lm_head(w, s, logit_rows);
}

void forward_batch(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens, int64_t pos,
                   Logits logits, KvCache* cache) {
  const auto n_tok = static_cast<int64_t>(tokens.size());
  s.row_positions.resize(tokens.size());  // within the capacity reserved at construction
  s.row_caches.assign(tokens.size(), cache ? cache : &s.cache);
  s.logit_rows.clear();
  for (int64_t t = 0; t < n_tok; ++t) {
    s.row_positions[t] = pos + t;
    if (logits == Logits::All || (logits == Logits::Last && t == n_tok - 1)) s.logit_rows.push_back(t);
  }
  forward_rows(w, s, tokens, s.row_positions, s.row_caches, s.logit_rows);
}

void prefill_sequence(const ModelWeights& w, ForwardScratch& s, std::span<const int32_t> tokens, int64_t pos,
                      KvCache* cache) {
  const auto chunk = static_cast<size_t>(s.max_batch);
  for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
    const auto part = tokens.subspan(begin, std::min(chunk, tokens.size() - begin));
    const bool last = begin + part.size() == tokens.size();
    forward_batch(w, s, part, pos + static_cast<int64_t>(begin), last ? Logits::Last : Logits::None, cache);
  }
}

}  // namespace tern
