#include "tern/batch.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "generation/sequence.h"
#include "kernels/thread_pool.h"
#include "model/forward.h"
#include "model/model_internals.h"
#include "model/multi_forward.h"
#include "tern/error.h"

namespace tern {
namespace {

using Clock = std::chrono::steady_clock;

// One sequence's place in the batch: its KV cache, kept across the requests it serves,
// and the request it serves now.
struct Slot {
  std::unique_ptr<KvCache> own_cache;  // null for the slot that uses the scratch's cache
  KvCache* cache = nullptr;
  bool live = false;
  uint64_t id = 0;
  std::optional<Sampler> sampler;
  std::optional<SequenceStep> step;
  std::vector<int32_t> history;  // prompt + generated tokens run, oldest first
  std::vector<float> logits;     // [n_vocab] logits for the next token
  int64_t n_past = 0;
  int32_t pending = -1;  // drawn token still to be run
  Clock::time_point start;
};

// A prompt tokenized by the caller: every id in the vocabulary and the whole prompt
// inside the context, as prompt_tokens() checks a text prompt.
std::vector<int32_t> checked_prompt_tokens(const Tokenizer& tok, std::vector<int32_t> tokens, int64_t n_ctx) {
  if (static_cast<int64_t>(tokens.size()) > n_ctx)
    fail("prompt is {} tokens but the context is {} (raise -c or shorten the prompt)", tokens.size(), n_ctx);
  const int32_t n_vocab = tok.vocab().size();
  for (const int32_t t : tokens)
    if (t < 0 || t >= n_vocab) fail("prompt token {} is outside the vocabulary [0, {})", t, n_vocab);
  return tokens;
}

}  // namespace

struct BatchRunner::State {
  const Model& model;
  BatchParams params;
  ForwardScratch scratch;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<SequenceResult> done;  // finished in the current add() or step()
  BatchStats stats;
  // Reused by every pass: [live rows] each.
  std::vector<int32_t> tokens;
  std::vector<int64_t> positions, logit_rows;
  std::vector<KvCache*> caches;
  std::vector<Slot*> rows;
  std::vector<std::optional<int32_t>> drawn;

  State(const Model& m, const BatchParams& p)
      : model(m),
        params(p),
        scratch(weights_of(m), p.n_ctx, std::max<int64_t>(p.parallel, Context::kDefaultBatch), p.kv_type, p.threads) {}

  // The slot's drawn token taken (text, stop strings, limits); a finished sequence's
  // result goes to `done` and its slot is free again.
  void accept(Slot& slot, std::optional<int32_t> drawn) {
    const size_t generated_before = slot.step->result().tokens.size();
    const auto next = slot.step->accept(drawn, slot.n_past >= params.n_ctx);
    stats.generated_tokens += static_cast<int64_t>(slot.step->result().tokens.size() - generated_before);
    if (next == SequenceStep::Next::Feed) {
      slot.pending = *drawn;
      return;
    }
    slot.step->finish();
    SequenceResult r;
    r.id = slot.id;
    r.generation = std::move(slot.step->result());
    r.ms = std::chrono::duration<double, std::milli>(Clock::now() - slot.start).count();
    done.push_back(std::move(r));
    slot.live = false;
    slot.pending = -1;
    slot.step.reset();
  }
};

BatchRunner::BatchRunner(const Model& model, const BatchParams& params) {
  if (params.parallel <= 0) fail("--parallel must be at least 1, got {}", params.parallel);
  if (params.n_ctx <= 0) fail("context size must be positive, got {}", params.n_ctx);
  if (params.threads < 0) fail("thread count must be 0 (the model's default) or positive, got {}", params.threads);
  state_ = std::make_unique<State>(model, params);
  const ModelConfig& c = model.config();
  for (int i = 0; i < params.parallel; ++i) {
    auto slot = std::make_unique<Slot>();
    if (i == 0) {
      slot->cache = &state_->scratch.cache;  // the scratch has one cache of the right shape already
    } else {
      slot->own_cache = std::make_unique<KvCache>(c.n_layers(), params.n_ctx, c.kv_dim(), params.kv_type);
      slot->cache = slot->own_cache.get();
    }
    slot->logits.resize(static_cast<size_t>(c.n_vocab));
    state_->slots.push_back(std::move(slot));
  }
}

BatchRunner::~BatchRunner() = default;

int BatchRunner::free_slots() const { return state_->params.parallel - live(); }
int BatchRunner::live() const {
  return static_cast<int>(
      std::count_if(state_->slots.begin(), state_->slots.end(), [](const auto& s) { return s->live; }));
}
const BatchStats& BatchRunner::stats() const { return state_->stats; }
int BatchRunner::parallel() const { return state_->params.parallel; }
int64_t BatchRunner::n_ctx() const { return state_->params.n_ctx; }

std::optional<SequenceResult> BatchRunner::add(SequenceRequest request) {
  State& st = *state_;
  const auto free = std::find_if(st.slots.begin(), st.slots.end(), [](const auto& s) { return !s->live; });
  if (free == st.slots.end()) fail("no free slot: all {} sequences are live", st.params.parallel);
  Slot& slot = **free;
  const Tokenizer& tok = st.model.tokenizer();
  std::vector<int32_t> tokens;
  try {
    validate_generation(request.generation);
    request.sampling.validate();
    tokens = request.prompt_tokens.empty()
                 ? prompt_tokens(tok, request.prompt, 0, st.params.n_ctx)
                 : checked_prompt_tokens(tok, std::move(request.prompt_tokens), st.params.n_ctx);
  } catch (const Error& e) {
    SequenceResult rejected;
    rejected.id = request.id;
    rejected.error = e.what();
    return rejected;
  }
  slot.start = Clock::now();
  slot.live = true;
  slot.id = request.id;
  slot.sampler.emplace(request.sampling);
  slot.step.emplace(tok, request.generation, std::move(request.on_text), std::span<const int32_t>(), tokens);
  slot.history = tokens;
  slot.pending = -1;

  prefill_sequence(weights_of(st.model), st.scratch, tokens, 0, slot.cache);
  std::memcpy(slot.logits.data(), st.scratch.logits.get(), slot.logits.size() * sizeof(float));
  slot.n_past = static_cast<int64_t>(tokens.size());
  st.stats.prompt_tokens += slot.n_past;
  st.accept(slot, slot.step->draw(*slot.sampler, slot.logits, slot.history));
  if (st.done.empty()) return std::nullopt;
  SequenceResult ended = std::move(st.done.back());
  st.done.clear();
  return ended;
}

std::vector<SequenceResult> BatchRunner::step() {
  State& st = *state_;
  const auto n_vocab = static_cast<size_t>(st.model.config().n_vocab);
  st.tokens.clear(), st.positions.clear(), st.logit_rows.clear(), st.caches.clear(), st.rows.clear();
  for (auto& slot : st.slots)
    if (slot->live) {
      st.logit_rows.push_back(static_cast<int64_t>(st.tokens.size()));
      st.tokens.push_back(slot->pending);
      st.positions.push_back(slot->n_past);
      st.caches.push_back(slot->cache);
      st.rows.push_back(slot.get());
    }
  if (!st.rows.empty()) {
    forward_rows(weights_of(st.model), st.scratch, st.tokens, st.positions, st.caches, st.logit_rows);
    // Each row draws with its own sampler and seed, so the rows draw in parallel (the
    // other threads would otherwise wait through B samplings of the whole vocabulary);
    // text, stop strings and results then follow in row order.
    st.drawn.assign(st.rows.size(), std::nullopt);
    auto draw_rows = [&](int index, int count) {
      const Range part = split_range(static_cast<int64_t>(st.rows.size()), index, count);
      for (int64_t i = part.begin; i < part.end; ++i) {
        Slot& slot = *st.rows[i];
        std::memcpy(slot.logits.data(), st.scratch.logits.get() + i * n_vocab, n_vocab * sizeof(float));
        slot.history.push_back(slot.pending);
        ++slot.n_past;
        st.drawn[i] = slot.step->draw(*slot.sampler, slot.logits, slot.history);
      }
    };
    if (st.rows.size() > 1) st.scratch.pool->run(draw_rows);
    else draw_rows(0, 1);
    for (size_t i = 0; i < st.rows.size(); ++i) st.accept(*st.rows[i], st.drawn[i]);
  }
  return std::exchange(st.done, {});
}

}  // namespace tern
