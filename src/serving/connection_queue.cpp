#include "serving/connection_queue.h"

namespace tern {
namespace {

thread_local bool t_over_capacity = false;

}  // namespace

BoundedTaskQueue::BoundedTaskQueue(size_t threads, size_t max_pending)
    : threads_count_(threads), max_pending_(max_pending) {
  threads_.reserve(threads + 1);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { serve(); });
  threads_.emplace_back([this] { refuse(); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

bool BoundedTaskQueue::over_capacity() { return t_over_capacity; }

void BoundedTaskQueue::run_refused(const std::function<void()>& connection) {
  t_over_capacity = true;
  connection();
  t_over_capacity = false;
}

void BoundedTaskQueue::enqueue(std::function<void()> connection) {
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_ && busy_ + pending_.size() < threads_count_ + max_pending_) {
      pending_.push_back(std::move(connection));
      ready_.notify_all();
      return;
    }
    if (!stopping_ && refused_.size() < max_pending_) {
      refused_.push_back(std::move(connection));
      ready_.notify_all();
      return;
    }
  }
  run_refused(connection);  // refusals pile up too: the accepting thread answers this one itself
}

void BoundedTaskQueue::shutdown() {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void BoundedTaskQueue::serve() {
  for (;;) {
    std::function<void()> connection;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and nothing left to serve
      connection = std::move(pending_.front());
      pending_.pop_front();
      ++busy_;
    }
    connection();
    const std::lock_guard lock(mutex_);
    --busy_;
  }
}

void BoundedTaskQueue::refuse() {
  for (;;) {
    std::function<void()> connection;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !refused_.empty(); });
      if (refused_.empty()) return;
      connection = std::move(refused_.front());
      refused_.pop_front();
    }
    run_refused(connection);
  }
}

}  // namespace tern
