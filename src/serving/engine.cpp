#include "serving/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tern {

using Clock = std::chrono::steady_clock;

std::pair<std::string, std::optional<BatchResult>> Job::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !unread_.empty() || result_.has_value(); });
  std::string text = std::move(unread_);
  unread_.clear();
  return {std::move(text), result_};
}

BatchResult Job::wait_result() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return result_.has_value(); });
  return *result_;
}

std::optional<BatchResult> Job::wait_result(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return result_.has_value(); });
  return result_;
}

void Job::add_text(std::string_view piece) {
  {
    const std::lock_guard lock(mutex_);
    unread_ += piece;
  }
  changed_.notify_all();
}

void Job::finish(BatchResult result) {
  {
    const std::lock_guard lock(mutex_);
    result_ = std::move(result);
  }
  changed_.notify_all();
}

Engine::Engine(const Model& model, int parallel, int64_t n_ctx, KvType kv_type, size_t max_queue)
    : runner_(model, BatchParams{.parallel = parallel, .n_ctx = n_ctx, .kv_type = kv_type}),
      max_queue_(max_queue),
      started_(Clock::now()) {
  metrics_.slots_total = parallel;
  thread_ = std::thread([this] { run(); });
}

Engine::~Engine() {
  drain();
  wait_drained();
}

bool Engine::submit(const std::shared_ptr<Job>& job) {
  {
    const std::lock_guard lock(mutex_);
    if (draining_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(job);
  }
  queued_.notify_one();
  return true;
}

void Engine::drain() {
  {
    const std::lock_guard lock(mutex_);
    draining_ = true;
  }
  queued_.notify_all();
}

void Engine::wait_drained() {
  if (thread_.joinable()) thread_.join();
}

EngineMetrics Engine::metrics() const {
  const std::lock_guard lock(mutex_);
  EngineMetrics m = metrics_;
  m.queue_depth = static_cast<int64_t>(queue_.size());
  m.slots_busy = static_cast<int64_t>(live_.size());
  const auto now = Clock::now();
  const double idle_now = idle_since_ ? std::chrono::duration<double>(now - *idle_since_).count() : 0;
  m.busy_seconds = std::max(0.0, std::chrono::duration<double>(now - started_).count() - idle_seconds_ - idle_now);
  return m;
}

std::optional<BatchRequest> Engine::next_request() {
  std::shared_ptr<Job> job;
  int64_t id = 0;
  {
    const std::lock_guard lock(mutex_);
    while (!queue_.empty() && queue_.front()->cancelled()) {  // gone before it got a slot
      BatchResult dropped;
      dropped.finish = FinishReason::Cancelled;
      queue_.front()->finish(std::move(dropped));
      queue_.pop_front();
    }
    if (queue_.empty()) return std::nullopt;
    job = std::move(queue_.front());
    queue_.pop_front();
    id = next_id_++;
    live_[id] = job;
  }
  BatchRequest request = job->request_;
  request.id = id;
  return request;
}

bool Engine::wait_for_requests() {
  std::unique_lock lock(mutex_);
  idle_since_ = Clock::now();
  queued_.wait(lock, [&] { return !queue_.empty() || draining_; });
  idle_seconds_ += std::chrono::duration<double>(Clock::now() - *idle_since_).count();
  idle_since_.reset();
  return !queue_.empty();
}

std::shared_ptr<Job> Engine::live_job(const nlohmann::json& id) {
  const std::lock_guard lock(mutex_);
  return live_.at(id.get<int64_t>());
}

void Engine::run() {
  ContinuousCallbacks cb;
  cb.next = [this] { return next_request(); };
  cb.on_text = [this](const BatchResult& so_far, std::string_view piece) {
    const std::shared_ptr<Job> job = live_job(so_far.id);
    if (job->cancelled()) return false;
    if (!piece.empty()) job->add_text(piece);
    return true;
  };
  cb.on_result = [this](BatchResult result) {
    std::shared_ptr<Job> job;
    {
      const std::lock_guard lock(mutex_);
      const auto live = live_.find(result.id.get<int64_t>());
      job = std::move(live->second);
      live_.erase(live);
      ++metrics_.requests_finished;
      metrics_.prompt_tokens += result.tokens_prompt;
      metrics_.generated_tokens += result.tokens_generated;
    }
    job->finish(std::move(result));
  };
  cb.wait_for_requests = [this] { return wait_for_requests(); };
  try {
    run_continuous(runner_, cb);
  } catch (const std::exception& e) {
    // Nothing can run any more: answer everything accepted with the error.
    spdlog::error("generation engine stopped: {}", e.what());
    const std::lock_guard lock(mutex_);
    draining_ = true;
    BatchResult failed;
    failed.error = fmt::format("the generation engine stopped: {}", e.what());
    for (auto& [id, job] : live_) job->finish(failed);
    for (auto& job : queue_) job->finish(failed);
    live_.clear();
    queue_.clear();
  }
}

}  // namespace tern
