#pragma once
// BitNet b1.58 activation quantization: one int8 vector per token, scaled by absmax.
#include <cstdint>
#include <span>
#include <vector>

namespace tern {

struct QuantizedActivations {
  std::vector<int8_t> q;  // [n] round_half_even(x * 127 / max|x|), in [-127, 127]
  float scale = 0;        // max|x| / 127: x ~= q * scale; 0 when x is all zeros
};

// Quantizes x into out (out.q is resized once and reused).
void quantize_activations(std::span<const float> x, QuantizedActivations& out);

}  // namespace tern
