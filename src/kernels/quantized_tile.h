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

// Tokens [0, n_tok) in tiles of the sizes given, largest first down to 1:
// tile.template operator()<T>(t) runs tokens t .. t + T - 1, each size as long as it fits.
template <int... kSizes, typename Tile>
inline void for_token_tiles(int64_t n_tok, Tile tile) {
  constexpr int kSizeList[] = {kSizes...};
  static_assert(kSizeList[sizeof...(kSizes) - 1] == 1, "the last tile size must be 1, so every token gets a tile");
  int64_t t = 0;
  auto tiles_of = [&]<int T>() {
    for (; t + T <= n_tok; t += T) tile.template operator()<T>(t);
  };
  (tiles_of.template operator()<kSizes>(), ...);
}

}  // namespace tern
