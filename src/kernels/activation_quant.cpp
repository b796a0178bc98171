#include "kernels/activation_quant.h"

#include <algorithm>
#include <cmath>

namespace tern {

void quantize_activations(std::span<const float> x, QuantizedActivations& out) {
  out.q.resize(x.size());
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  if (amax == 0) {
    std::fill(out.q.begin(), out.q.end(), int8_t{0});
    out.scale = 0;
    return;
  }
  // x * 127 / amax rather than x * (127 / amax): one rounding fewer, so values that sit
  // exactly on a tie (common with bf16 inputs) round as the spec says.
  for (size_t i = 0; i < x.size(); ++i) out.q[i] = static_cast<int8_t>(std::nearbyint(x[i] * 127.0f / amax));
  out.scale = amax / 127.0f;
}

}  // namespace tern
