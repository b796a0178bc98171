#pragma once
// Reads Hugging Face checkpoint folders (config.json + safetensors, sharded or not) of
// LlamaForCausalLM, MobileLLMForCausalLM and the BitNet b1.58 families into a draft.
#include <filesystem>
#include <string>
#include <vector>

#include "convert/model_draft.h"

namespace tern {

struct HfReadResult {
  ModelDraft draft;
  bool post_training_quantized = false;  // full-precision weights were ternarized here
  std::vector<std::string> notes;        // what was detected, for the user
};

// `tokenizer` overrides the folder's tokenizer.model / tokenizer.json when not empty.
HfReadResult read_hf_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& tokenizer);

}  // namespace tern
