#pragma once
// The batch benchmark: aggregate generation speed of B sequences decoded together, one
// batched forward pass per step (one token of each sequence; every weight read once per
// step), as `tern batch --parallel B` runs them. Like llama-batched-bench's S_TG.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/forward.h"
#include "model/kv_cache.h"
#include "tern/model.h"

namespace tern {

// One batch size's state, kept across repetitions the way `tern batch` keeps its slots'
// caches across requests (and llama-bench its context, whose KV buffer is cleared when
// it is created): the scratch and the B caches are allocated and their pages touched
// once, so no timed step pays a first-use page fault.
class BatchDecodeBench {
 public:
  // Room for n_prompt + max_gen positions per sequence, in caches of kv_type.
  BatchDecodeBench(const Model& model, int batch, int n_prompt, int max_gen, KvType kv_type = KvType::F32);
  // Prefills the sequences with n_prompt tokens each (not timed), then times n_gen
  // (<= max_gen) decode steps over all of them with greedy choices; returns
  // batch * n_gen / seconds.
  double tokens_per_second(int n_gen);

 private:
  const Model& model_;
  int batch_;
  int n_prompt_;
  int max_gen_;
  ForwardScratch scratch_;
  std::vector<std::unique_ptr<KvCache>> caches_;  // one per sequence
};

}  // namespace tern
