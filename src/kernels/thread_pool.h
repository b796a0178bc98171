#pragma once
// A persistent pool of worker threads that all run the same job and meet at its end.
// Made for many tiny jobs per token (one per matrix product), so handing out a job is
// one atomic increment and waiting is spinning, falling back to sleeping when idle.
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace tern {

class ThreadPool {
 public:
  // n_threads counts the calling thread: a pool of 1 runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs job(thread_index, n_threads) on every thread, the caller as index 0, and
  // returns when all have finished. Not reentrant; one caller at a time.
  template <typename Job>
  void run(Job&& job) {
    if (n_threads_ == 1) {
      job(0, 1);
      return;
    }
    using JobType = std::remove_reference_t<Job>;
    job_ = const_cast<void*>(static_cast<const void*>(&job));
    invoke_ = [](void* j, int index, int count) { (*static_cast<JobType*>(j))(index, count); };
    dispatch();
  }

 private:
  void dispatch();
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  void* job_ = nullptr;
  void (*invoke_)(void*, int, int) = nullptr;
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};  // workers blocked in a futex wait: only then is a wake needed
  std::atomic<bool> stop_{false};
};

// The half-open range [begin, end) of `total` items that thread `index` of `count` takes,
// in multiples of `granule` so SIMD tiles stay whole.
struct Range {
  int64_t begin, end;
};
Range split_range(int64_t total, int index, int count, int64_t granule = 1);

}  // namespace tern
