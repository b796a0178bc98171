#pragma once
// Batch files, as `tern batch` runs them (the tern::server library): prompts in a JSONL
// file, one JSON result line per prompt out, written as each finishes (completion
// order; match them by id), with continuous batching (tern/batch.h). Two formats, told
// apart by the first non-blank line:
//   tern's:  in  {"id", "prompt", "n_predict", "temperature", ..., "stop"} (parse_batch_line)
//            out {"id", "text", "tokens_prompt", "tokens_generated", "finish_reason", "ms"}
//                or {"id", "error"}
//   OpenAI Batch API:
//            in  {"custom_id", "method": "POST", "url": "/v1/completions" or
//                 "/v1/chat/completions", "body": {...}}
//            out {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}
// or plain text (BatchDefaults::text): one prompt a line, id = line number. A shard runs
// only lines k with k % N == I; resume skips the ids the output already has and appends,
// so a killed or requeued run finishes the rest.
//
//   tern::BatchFileOptions options;
//   options.input = "prompts.jsonl";
//   options.output = "out.jsonl";
//   options.resume = true;
//   tern::BatchFile file(options);  // reads the input and what the output already has
//   const tern::BatchFileSummary s = file.run(model, {.parallel = 8, .n_ctx = 1024});
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tern/batch.h"
#include "tern/model.h"

namespace tern {

struct BatchFileOptions {
  std::string input = "-";   // "-": standard input
  std::string output = "-";  // "-": standard output
  BatchDefaults defaults;    // what a request that sets nothing gets; defaults.text: plain-text input
  // "" (every line), "I/N", or "auto" / "auto/N": I and N from a Slurm job array
  // (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) or a
  // Kubernetes Indexed Job (JOB_COMPLETION_INDEX of N or TERN_SHARD_COUNT).
  std::string shard;
  bool resume = false;  // needs an output file
};

struct BatchFileProgress {
  size_t done = 0;   // result lines written by this run
  size_t total = 0;  // lines this run handles
  int64_t generated_tokens = 0;
};

struct BatchFileControl {
  std::function<bool()> take_more = [] { return true; };      // false: start no new prompts, finish the live ones
  std::function<bool()> abandon = [] { return false; };       // true: stop at once, live prompts unreported
  std::function<void(const BatchFileProgress&)> on_progress;  // optional: after every result line
};

struct BatchFileSummary {
  size_t total = 0;   // lines this run handled or meant to
  size_t done = 0;    // result lines written
  size_t failed = 0;  // of those, error records
};

class BatchFile {
 public:
  // Checks the options (resume needs an output file; the output must not be the
  // input), parses the shard, reads the input and, with resume, the ids already done
  // (cutting a torn last line off the output). Throws tern::Error naming the file,
  // value or variable that is wrong.
  explicit BatchFile(BatchFileOptions options);
  ~BatchFile();
  BatchFile(const BatchFile&) = delete;
  BatchFile& operator=(const BatchFile&) = delete;

  // Whether the input is in the OpenAI Batch API format.
  bool openai_format() const;
  // The lines this run will handle: its shard's, not blank, not already done.
  size_t pending() const;

  // Opens the output (appending with resume, else truncating) and runs the pending
  // lines on `model` with `params` (`params.n_ctx` bounds each prompt + generation);
  // once per BatchFile. A bad line becomes an error record, never an exception; throws
  // tern::Error when the output cannot be opened or written or `params` are not valid.
  BatchFileSummary run(const Model& model, const BatchParams& params, const BatchFileControl& control = {});

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tern
