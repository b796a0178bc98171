#pragma once
// The int8 kernels' tile step (Q8_0, row-group and Q6_K heads): each of T tokens has its
// activations quantized once into its own scratch, then one pass over the rows uses all
// T of them, so every weight loaded serves the whole tile.
#include <cstdint>

namespace tern {

// quantize(x_t, activations_t) for t < T, then rows(views) with views[t] = &activations_t.
// Activations are each kernel file's own (internal) type, so every instantiation stays in
// the file compiled for its instruction set.
template <int T, typename Activations, typename Quantize, typename Rows>
inline void run_quantized_tile(const float* x, int64_t x_stride, Quantize quantize, Rows rows) {
  Activations tokens[T];
  const Activations* views[T];
  for (int t = 0; t < T; ++t) {
    quantize(x + t * x_stride, tokens[t]);
    views[t] = &tokens[t];
  }
  rows(views);
}

}  // namespace tern
