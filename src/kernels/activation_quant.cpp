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
  const float inv = 127.0f / amax;
  for (size_t i = 0; i < x.size(); ++i) out.q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inv));  // ties to even
  out.scale = amax / 127.0f;
}

}  // namespace tern
