#include "kernels/thread_pool.h"

#include <pthread.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <string>

namespace tern {
namespace {

// Waiting escalates: spin (a round trip between cores costs well under a microsecond,
// jobs arrive every few microseconds), then yield the core (when threads outnumber free
// cores the thread being waited for may need it), then sleep on a futex when idle.
constexpr int kSpinRounds = 2000;
constexpr int kYieldRounds = 20000;

// Waits until ready() holds, spinning then yielding; false if it still does not after
// all rounds (the caller may then sleep).
template <typename Ready>
bool wait_briefly(Ready ready) {
  for (int i = 0; i < kSpinRounds; ++i) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");  // ARM's spin-wait hint
#endif
  }
  for (int i = 0; i < kYieldRounds; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::dispatch() {
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();  // skip the syscall when all spin
  invoke_(job_, 0, n_threads_);
  while (!wait_briefly([this] { return pending_.load(std::memory_order_acquire) == 0; })) {}
}

void ThreadPool::worker(int index) {
  // Named so that profilers and top tell the workers from the calling thread.
  pthread_setname_np(pthread_self(), ("tern-worker-" + std::to_string(index)).c_str());
  uint64_t seen = 0;
  while (true) {
    if (!wait_briefly([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
      // Announce the sleep before re-checking, so a dispatch either sees the sleeper
      // (and wakes it) or this thread sees the new generation (and does not sleep).
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      generation_.wait(seen, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    invoke_(job_, index, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

Range split_range(int64_t total, int index, int count, int64_t granule) {
  const int64_t units = (total + granule - 1) / granule;
  const int64_t begin = units * index / count * granule;
  const int64_t end = units * (index + 1) / count * granule;
  return {std::min(begin, total), std::min(end, total)};
}

}  // namespace tern
