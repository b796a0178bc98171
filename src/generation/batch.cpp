#include "generation/batch.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "generation/prompt_bound.h"
#include "generation/stop_strings.h"
#include "kernels/thread_pool.h"
#include "model/multi_forward.h"
#include "tern/error.h"

namespace tern {

using Clock = std::chrono::steady_clock;

struct BatchRunner::Slot {
  std::unique_ptr<KvCache> own_cache;  // null for the slot that uses the scratch's cache
  KvCache* cache = nullptr;
  bool live = false;
  BatchRequest request;
  std::optional<Sampler> sampler;
  std::optional<StreamDecoder> decoder;
  std::optional<StopStrings> stops;
  std::vector<int32_t> history;  // prompt + generated tokens fed back, oldest first
  std::vector<float> logits;     // [n_vocab] logits for the next token
  int64_t n_past = 0;
  int32_t pending = -1;          // sampled token still to be fed back
  BatchResult result;
  Clock::time_point start;
};

BatchRunner::BatchRunner(const Model& model, int parallel, int64_t n_ctx, KvType kv_type)
    : model_(model), parallel_(parallel), n_ctx_(n_ctx) {
  if (parallel <= 0) fail("--parallel must be at least 1, got {}", parallel);
  if (n_ctx <= 0) fail("context size must be positive, got {}", n_ctx);
  const ModelConfig& c = model.config();
  scratch_ = std::make_unique<ForwardScratch>(model.weights(), n_ctx, std::max<int64_t>(parallel, Context::kDefaultBatch),
                                              kv_type);
  for (int i = 0; i < parallel; ++i) {
    auto slot = std::make_unique<Slot>();
    if (i == 0) {
      slot->cache = &scratch_->cache;  // the scratch has one cache of the right shape already
    } else {
      slot->own_cache = std::make_unique<KvCache>(c.n_layers(), n_ctx, c.kv_dim(), kv_type);
      slot->cache = slot->own_cache.get();
    }
    slot->logits.resize(static_cast<size_t>(c.n_vocab));
    slots_.push_back(std::move(slot));
  }
}

BatchRunner::~BatchRunner() = default;

bool BatchRunner::admit(Slot& slot, BatchRequest request, const Callbacks& callbacks) {
  const Tokenizer& tok = model_.tokenizer();
  std::vector<int32_t> tokens;
  try {
    if (request.n_predict < -1) fail("n_predict must be -1 (until the context is full) or >= 0, got {}", request.n_predict);
    request.sampling.validate();
    check_prompt_bytes(tok, request.prompt, n_ctx_);
    tokens = request.prompt_tokens.empty() ? tok.encode(request.prompt, tok.vocab().add_bos) : request.prompt_tokens;
    if (tokens.empty()) tokens.push_back(tok.bos());
    if (static_cast<int64_t>(tokens.size()) > n_ctx_)
      fail("prompt is {} tokens but the context is {} (raise -c or shorten the prompt)", tokens.size(), n_ctx_);
  } catch (const Error& e) {
    BatchResult failed;
    failed.id = std::move(request.id);
    failed.error = e.what();
    callbacks.on_result(std::move(failed));
    return false;
  }
  slot.start = Clock::now();
  slot.live = true;
  slot.sampler.emplace(request.sampling);
  const bool starts_text = tokens.size() == 1 && tokens[0] == tok.bos();
  slot.decoder.emplace(tok, starts_text);
  slot.stops.emplace(request.stop);
  slot.result = BatchResult{};
  slot.result.id = request.id;
  slot.result.tokens_prompt = static_cast<int64_t>(tokens.size());
  slot.request = std::move(request);
  slot.history = tokens;
  slot.n_past = 0;
  slot.pending = -1;

  // Prefill, a chunk of the prompt per pass.
  const int64_t n_vocab = model_.config().n_vocab;
  const auto chunk = static_cast<size_t>(scratch_->max_batch);
  std::vector<int64_t> positions;
  for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
    const size_t n = std::min(chunk, tokens.size() - begin);
    positions.resize(n);
    for (size_t i = 0; i < n; ++i) positions[i] = static_cast<int64_t>(begin + i);
    const std::vector<KvCache*> caches(n, slot.cache);
    const bool last = begin + n == tokens.size();
    const int64_t last_row = static_cast<int64_t>(n) - 1;
    forward_rows(model_.weights(), *scratch_, std::span<const int32_t>(tokens).subspan(begin, n), positions, caches,
                 last ? std::span<const int64_t>(&last_row, 1) : std::span<const int64_t>());
    if (last) std::memcpy(slot.logits.data(), scratch_->logits.get(), static_cast<size_t>(n_vocab) * sizeof(float));
  }
  slot.n_past = static_cast<int64_t>(tokens.size());
  stats_.prompt_tokens += slot.n_past;
  return true;
}

std::optional<int32_t> BatchRunner::draw(Slot& slot) {
  const int32_t n_predict = slot.request.n_predict;
  if (n_predict >= 0 && slot.result.tokens_generated >= n_predict) return std::nullopt;
  return slot.sampler->sample(slot.logits, slot.history);
}

bool BatchRunner::advance(Slot& slot, std::optional<int32_t> drawn, const Callbacks& callbacks) {
  const Tokenizer& tok = model_.tokenizer();
  BatchResult& r = slot.result;
  if (!drawn) {
    r.finish = FinishReason::Length;
    return false;
  }
  const int32_t token = *drawn;
  const auto& ends = slot.request.end_tokens;
  if (token == tok.eos() || std::find(ends.begin(), ends.end(), token) != ends.end()) {
    r.finish = FinishReason::Eos;
    return false;
  }
  ++r.tokens_generated;
  ++stats_.generated_tokens;
  const std::string piece = slot.stops->push(slot.decoder->push(token));
  r.text += piece;
  if (callbacks.on_text && !callbacks.on_text(r, piece)) {
    r.finish = FinishReason::Cancelled;
    return false;
  }
  if (slot.stops->stopped()) {
    r.finish = FinishReason::Stop;
    return false;
  }
  if (slot.n_past >= n_ctx_) {  // context full: the token is shown but cannot be fed back
    r.finish = FinishReason::Length;
    return false;
  }
  slot.pending = token;
  return true;
}

BatchResult BatchRunner::finish(Slot& slot, const Callbacks& callbacks) {
  BatchResult& r = slot.result;
  if (!slot.stops->stopped() && r.finish != FinishReason::Cancelled) {
    std::string rest = slot.stops->push(slot.decoder->flush());
    if (slot.stops->stopped()) r.finish = FinishReason::Stop;
    else rest += slot.stops->flush();
    r.text += rest;
    if (callbacks.on_text && !rest.empty()) callbacks.on_text(r, rest);
  }
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - slot.start).count();
  slot.live = false;
  slot.pending = -1;
  return std::move(r);
}

void BatchRunner::run(const Callbacks& cb) {
  const ModelWeights& w = model_.weights();
  const auto n_vocab = static_cast<size_t>(model_.config().n_vocab);
  bool exhausted = false;
  std::vector<int32_t> tokens;
  std::vector<int64_t> positions, logit_rows;
  std::vector<KvCache*> caches;
  std::vector<Slot*> rows;
  std::vector<std::optional<int32_t>> drawn;  // [rows] this pass's tokens
  while (true) {
    if (cb.abandon()) return;
    if (cb.wait_for_requests) exhausted = false;  // a server's queue refills
    // Free slots take new requests (prefill and first token).
    for (auto& slot_ptr : slots_) {
      Slot& slot = *slot_ptr;
      while (!slot.live && !exhausted && cb.take_more() && !cb.abandon()) {
        std::optional<BatchRequest> request = cb.next();
        if (!request) {
          exhausted = true;
          break;
        }
        if (!admit(slot, std::move(*request), cb)) continue;
        if (!advance(slot, draw(slot), cb)) cb.on_result(finish(slot, cb));
      }
    }
    if (cb.abandon()) return;
    // One decode pass over every live sequence.
    tokens.clear(), positions.clear(), logit_rows.clear(), caches.clear(), rows.clear();
    for (auto& slot_ptr : slots_)
      if (slot_ptr->live) {
        logit_rows.push_back(static_cast<int64_t>(tokens.size()));
        tokens.push_back(slot_ptr->pending);
        positions.push_back(slot_ptr->n_past);
        caches.push_back(slot_ptr->cache);
        rows.push_back(slot_ptr.get());
      }
    if (rows.empty()) {
      if (!cb.take_more()) return;
      if (cb.wait_for_requests) {
        if (!cb.wait_for_requests()) return;
      } else if (exhausted) {
        return;
      }
      continue;
    }
    forward_rows(w, *scratch_, tokens, positions, caches, logit_rows);
    // Each row draws with its own sampler and seed, so the rows draw in parallel (the
    // other threads would otherwise wait through B samplings of the whole vocabulary);
    // text, stop strings and results then follow in row order.
    drawn.assign(rows.size(), std::nullopt);
    auto draw_rows = [&](int index, int count) {
      const Range part = split_range(static_cast<int64_t>(rows.size()), index, count);
      for (int64_t i = part.begin; i < part.end; ++i) {
        Slot& slot = *rows[i];
        std::memcpy(slot.logits.data(), scratch_->logits.get() + i * n_vocab, n_vocab * sizeof(float));
        slot.history.push_back(slot.pending);
        ++slot.n_past;
        drawn[i] = draw(slot);
      }
    };
    if (rows.size() > 1) w.pool->run(draw_rows);
    else draw_rows(0, 1);
    for (size_t i = 0; i < rows.size(); ++i)
      if (!advance(*rows[i], drawn[i], cb)) cb.on_result(finish(*rows[i], cb));
  }
}

}  // namespace tern
