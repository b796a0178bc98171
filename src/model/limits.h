#pragma once
// Upper bounds on what a model file may ask for (docs/FORMAT.md, "Resource limits").
// Every reader checks these before it allocates, so a small file cannot ask for
// gigabytes: convert refuses to write what load would refuse to read.
#include <cstdint>
#include <string>

#include "tern/model.h"

namespace tern {

// mobilellm.block_repeat / config.json layer_sharing_repeat (MobileLLM uses 2).
constexpr int64_t kMaxBlockRepeat = 16;
// Executed layers, n_blocks * block_repeat (the KV cache has one slot per layer).
constexpr int64_t kMaxExecutedLayers = 1024;

// Throws tern::Error naming `source` and `repeat_key` when block_repeat or the executed
// layer count exceeds its maximum.
void check_layer_limits(const ModelConfig& config, const std::string& source, const std::string& repeat_key);

}  // namespace tern
