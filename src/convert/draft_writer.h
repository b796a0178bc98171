#pragma once
// Turns a ModelDraft into GGUF: metadata keys (docs/FORMAT.md 3.1, 3.3) and tensors
// encoded in the requested types.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "convert/model_draft.h"
#include "io/gguf_writer.h"

namespace tern {

struct DraftWriteOptions {
  std::string architecture = "mobilellm";       // "mobilellm" or "llama"
  TensorType ternary_type = TensorType::TERN2;  // TERN2, TQ2_0 or TQ1_0
  // token_embd / output: F32, F16, BF16, Q4_0, Q8_0 or Q6_K; nullopt: Q8_0 where rows are whole
  // 32-blocks, else F32 (docs/PERFORMANCE.md, "LM head type", measured the choice).
  std::optional<TensorType> embedding_type;
  TensorType dense_type = TensorType::F32;  // float linears and everything else float
};

// One tensor as it will be written, for --dry-run listings and progress.
struct PlannedTensor {
  std::string name;
  std::vector<uint64_t> ne;
  TensorType type;
  uint64_t bytes;
};

// Decides each tensor's type. Throws tern::Error if the draft cannot be written as
// asked (a tern-only feature in a llama export, a row length a type cannot hold).
std::vector<PlannedTensor> plan_tensors(const ModelDraft& draft, const DraftWriteOptions& options);

// Encodes the whole draft as `plan` (plan_tensors of the same draft and options) says;
// the caller unshares blocks first for llama exports. `progress(done, total)` is called
// after each tensor (may be empty).
GgufWriter draft_to_gguf(const ModelDraft& draft, const std::vector<PlannedTensor>& plan,
                         const DraftWriteOptions& options, const std::function<void(size_t, size_t)>& progress = {});

// Writes the vocabulary's tokenizer.ggml.* keys.
void write_vocab_keys(const Vocab& vocab, GgufWriter& writer);

}  // namespace tern
