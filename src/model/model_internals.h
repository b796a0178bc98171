#pragma once
// What the library's own layers (generation, bench) reach through a public Model: its
// weights, which the public header keeps opaque.
#include "model/weights.h"
#include "tern/model.h"

namespace tern {

const ModelWeights& weights_of(const Model& model);

}  // namespace tern
