#pragma once
// Hyperparameters from GGUF metadata (docs/FORMAT.md 3.1).
#include "io/gguf_reader.h"
#include "tern/model.h"

namespace tern {

// Reads and checks every hyperparameter key; throws naming the file and key.
ModelConfig read_model_config(const GgufFile& file);

}  // namespace tern
