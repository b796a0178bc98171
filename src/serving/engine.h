#pragma once
// The server's generation engine: one thread runs continuous batching (BatchRunner, the
// engine `tern batch` uses) over the requests HTTP threads submit. Requests decode
// together, one batched product per step; a finished slot takes the next queued request.
// A request's text depends only on its own parameters and seed (see batch.h).
//
// This is the one seam between the HTTP layer and generation: submit a Job, read its
// streamed pieces and result, cancel it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "serving/continuous_batch.h"

namespace tern {

// One accepted request, shared by the HTTP thread that answers it and the engine.
class Job {
 public:
  explicit Job(BatchRequest request) : request_(std::move(request)) {}

  // Waits up to `timeout` for text or the end. Returns the text released since the last
  // call (possibly empty) and, once finished, the result.
  std::pair<std::string, std::optional<BatchResult>> wait(std::chrono::milliseconds timeout);
  // Waits for the end (non-streaming answers).
  BatchResult wait_result();
  // Waits up to `timeout` for the end; nullopt when it has not come.
  std::optional<BatchResult> wait_result(std::chrono::milliseconds timeout);
  // The client went away: the engine frees the slot at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  friend class Engine;
  void add_text(std::string_view piece);
  void finish(BatchResult result);

  BatchRequest request_;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string unread_;                 // text released but not yet taken by wait()
  std::optional<BatchResult> result_;  // set once, when the request finished
};

struct EngineMetrics {
  int64_t requests_finished = 0;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double busy_seconds = 0;  // time not spent waiting for requests
  int64_t queue_depth = 0;
  int64_t slots_busy = 0;
  int64_t slots_total = 0;
};

class Engine {
 public:
  // max_queue: requests waiting for a slot at most; more are refused by submit().
  Engine(const Model& model, int parallel, int64_t n_ctx, KvType kv_type, size_t max_queue);
  ~Engine();  // drains, then joins the engine thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a job; false when the queue is full or the engine is draining.
  bool submit(const std::shared_ptr<Job>& job);
  // Takes no more jobs; the engine thread ends once every accepted job finished.
  void drain();
  // Blocks until drained (after drain()).
  void wait_drained();
  EngineMetrics metrics() const;

 private:
  void run();
  std::optional<BatchRequest> next_request();
  bool wait_for_requests();
  std::shared_ptr<Job> live_job(const nlohmann::json& id);

  BatchRunner runner_;
  const size_t max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<int64_t, std::shared_ptr<Job>> live_;  // by the id the runner carries
  int64_t next_id_ = 0;
  bool draining_ = false;
  EngineMetrics metrics_;  // counters; the gauges are filled in by metrics()
  std::chrono::steady_clock::time_point started_;
  double idle_seconds_ = 0;  // waiting for requests, with nothing live
  std::optional<std::chrono::steady_clock::time_point> idle_since_;
  std::thread thread_;
};

}  // namespace tern
