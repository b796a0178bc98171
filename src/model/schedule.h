#pragma once
// How a forward pass is spread over a Context's threads: the scheduling policy, kept
// apart from the math of a layer (forward.cpp). docs/PERFORMANCE.md ("Threads") gives
// the measurements behind each choice.
//
//   Executor  who runs a pass's parallel regions, over which rows of the batch
//   Share     what one thread computes of a group of linears: rows or tokens
//   tables_per_thread / runs_data_parallel   the two switches between strategies
#include <cstdint>
#include <span>

#include "kernels/thread_pool.h"
#include "model/forward.h"
#include "model/weights.h"

namespace tern {

// Rows per thread slice: a whole number of the kernels' row blocks (32 rows in the
// TritTriples layout, 4-row tiles otherwise), so no block is split between threads.
inline constexpr int64_t kRowGranule = TernaryMatrix::kBlockRows;

// The whole pool over every row of the batch, or one thread alone over its own rows (a
// batch of independent sequences runs data-parallel: each thread takes its rows through
// every layer without meeting the others, since no row's attention reads another row's
// keys).
struct Executor {
  ThreadPool* pool;  // null: inline on the calling thread
  Range tokens;      // the rows of the batch this executor covers
  int thread;        // inline: the calling thread's index (its slot in per-thread scratch)

  template <typename Job>
  void run(Job&& job) const {
    if (pool) pool->run(job);
    else job(0, 1);
  }
  // Thread `index` of `count`'s part of the rows.
  Range part(int index, int count) const {
    const Range r = split_range(tokens.end - tokens.begin, index, count);
    return {tokens.begin + r.begin, tokens.begin + r.end};
  }
  int slot(int index) const { return pool ? index : thread; }
};

// Few tokens (generation, a small batch): each thread takes its slice of the rows for
// every token, so that each weight is read by one core only. At least this many tokens
// per thread (a prompt chunk, a batch of 8): each thread takes every row for its own
// slice of the tokens, the same slice whose activation tables it built itself, since
// tables are far larger than the weights they meet (64 bytes per three activations).
inline constexpr int64_t kMinTokensPerThreadToSplitTokens = 4;

struct Share {
  Range tokens;
  bool all_rows;
  int index, count;

  Range rows(const Linear& l) const {
    return all_rows ? Range{0, l.n_out} : split_range(l.n_out, index, count, kRowGranule);
  }
};

inline bool splits_tokens(const Executor& ex, int count) {
  return count > 1 && ex.tokens.end - ex.tokens.begin >= kMinTokensPerThreadToSplitTokens * count;
}

inline Share share_of(const Executor& ex, int index, int count) {
  if (splits_tokens(ex, count)) return {ex.part(index, count), true, index, count};
  return {ex.tokens, false, index, count};
}

// A row split over several threads (generation, batches of a few tokens) makes every
// thread read every token's tables; each thread then builds its own copy in its own
// scratch at the start of the product rather than sharing one copy between cores. Up
// to ForwardScratch::kOwnTableTokens tokens.
inline bool tables_per_thread(const Executor& ex) {
  const int count = ex.pool ? ex.pool->size() : 1;
  return count > 1 && !splits_tokens(ex, count) && ex.tokens.end - ex.tokens.begin <= ForwardScratch::kOwnTableTokens;
}

// Data-parallel layers pay when every thread gets enough rows to share its weight loads
// among, and are possible when no two rows share a sequence (a row's attention then
// reads only its own cache).
bool runs_data_parallel(ForwardScratch& s, std::span<KvCache* const> caches);

}  // namespace tern
