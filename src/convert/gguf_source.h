#pragma once
// Reads a GGUF model (tern's mobilellm or llama.cpp's llama) into a ModelDraft.
#include <filesystem>

#include "convert/model_draft.h"

namespace tern {

// Float tensors are decoded to f32, ternary ones (TQ1_0, TQ2_0, TERN2) to weights and
// scales, so any of them can be re-encoded exactly. A llama source becomes mobilellm.
ModelDraft read_gguf_model(const std::filesystem::path& path);

}  // namespace tern
