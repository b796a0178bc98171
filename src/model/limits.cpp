#include "model/limits.h"

#include "tern/error.h"

namespace tern {

void check_layer_limits(const ModelConfig& c, const std::string& source, const std::string& repeat_key) {
  if (c.block_repeat < 1 || c.block_repeat > kMaxBlockRepeat)
    fail("{}: key '{}' is {}, expected 1..{}", source, repeat_key, c.block_repeat, kMaxBlockRepeat);
  if (c.n_blocks > kMaxExecutedLayers / c.block_repeat)
    fail("{}: {} blocks run {} times each make {} layers, more than the {} tern runs", source, c.n_blocks,
         c.block_repeat, c.n_blocks * c.block_repeat, kMaxExecutedLayers);
}

}  // namespace tern
