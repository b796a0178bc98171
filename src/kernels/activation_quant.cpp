#include "kernels/activation_quant.h"

#include "kernels/kernels.h"

namespace tern {

void quantize_activations(std::span<const float> x, QuantizedActivations& out) {
  out.q.resize(x.size());
  out.scale = scalar_kernels().quantize_row(x.data(), static_cast<int64_t>(x.size()), out.q.data());
}

}  // namespace tern
