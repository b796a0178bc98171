#pragma once
// The batch benchmark: aggregate generation speed of B sequences decoded together, one
// batched forward pass per step (one token of each sequence; every weight read once per
// step), as `tern batch --parallel B` runs them. Like llama-batched-bench's S_TG.
#include <cstdint>

#include "tern/model.h"

namespace tern {

// Prefills `batch` sequences with n_prompt tokens each (not timed), then times n_gen
// decode steps over all of them with greedy choices; returns batch * n_gen / seconds.
double time_batch_decode(const Model& model, int batch, int n_prompt, int n_gen);

}  // namespace tern
