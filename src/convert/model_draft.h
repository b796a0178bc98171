#pragma once
// A model on its way from some source format to a GGUF file: hyperparameters,
// tokenizer and tensors in plain form (floats, or ternary weights with scales), named
// and shaped as tern names them (docs/FORMAT.md 3.2). Every reader produces one; one
// writer turns it into a file.
#include <optional>
#include <string>
#include <vector>

#include "kernels/ternary_formats.h"
#include "tern/model.h"
#include "tern/tokenizer.h"

namespace tern {

struct DraftTensor {
  std::string name;                       // e.g. "blk.0.attn_q.weight"
  std::vector<uint64_t> ne;               // ne[0] innermost
  std::vector<float> values;              // float tensors: [rows, ne[0]]
  std::optional<TernaryWeights> ternary;  // ternary tensors
  bool is_ternary() const { return ternary.has_value(); }
  uint64_t n_elements() const;
};

struct ModelDraft {
  ModelConfig config;  // architecture "mobilellm" unless stated
  Vocab vocab;
  std::vector<DraftTensor> tensors;
  std::string source;  // what it was read from, for messages

  const DraftTensor* find(const std::string& name) const;
  DraftTensor* find(const std::string& name);
  // Which of the block-level tern-only features the draft uses (empty: none), so a
  // `llama` export can refuse with a precise reason.
  std::vector<std::string> tern_only_features() const;
};

// The draft with every shared block written out block_repeat times (block_repeat 1).
ModelDraft unshare_blocks(const ModelDraft& draft);

// Ternarizes float weights by absmean per tensor (BitNet b1.58): scale = mean|W|,
// w = clip(round(W / scale), -1, 1).
TernaryWeights ternarize_absmean(const std::vector<float>& values, int64_t n_in, int64_t n_rows);

}  // namespace tern
