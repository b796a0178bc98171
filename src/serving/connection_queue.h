#pragma once
// cpp-httplib hands every accepted connection to a TaskQueue; its ThreadPool queues them
// without bound. This one serves `threads` connections at once and lets `max_pending`
// more wait for a thread. A connection past both is refused: run on a thread of its own
// with over_capacity() true, so the server answers it 503 and closes it. Refusals
// queue up to `max_pending` as well; past that the accepting thread refuses the
// connection itself (which slows accepting: backpressure, never unbounded memory).
#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tern {

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_pending);
  ~BoundedTaskQueue() override;
  BoundedTaskQueue(const BoundedTaskQueue&) = delete;
  BoundedTaskQueue& operator=(const BoundedTaskQueue&) = delete;

  void enqueue(std::function<void()> connection) override;
  // Serves (or refuses) the connections still waiting, then joins the threads.
  void shutdown() override;

  // True while this thread handles a connection that came past the bounds. (httplib
  // 0.11's TaskQueue cannot drop a connection, only run it, so the refusal travels to
  // the request handler this way.)
  static bool over_capacity();

 private:
  void serve();
  void refuse();
  static void run_refused(const std::function<void()>& connection);

  const size_t threads_count_;
  const size_t max_pending_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> pending_;  // to serve
  std::deque<std::function<void()>> refused_;  // to answer 503
  size_t busy_ = 0;                            // connections being served
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tern
