#pragma once
// Activations as the AVX2 int8 products of 32-weight blocks (Q8_0 and Q4_0 rows) take
// them: each block of 32 inputs rounded to int8 against its own scale max|x| / 127
// (round to nearest even, as the other int8 activation paths). Compiled for AVX2 only:
// include it from the AVX2 kernel files.
#include <cstdint>

namespace tern {

constexpr int64_t kMaxQ8Input = 8192;  // widest input the int8 block products take

struct Q8Activations {
  alignas(32) int8_t q[kMaxQ8Input];           // round(x / d)
  alignas(32) uint8_t magnitude[kMaxQ8Input];  // |q|
  float scale[kMaxQ8Input / 32];               // d = max|x| / 127 per block
};

// x[0, n_in) (n_in a multiple of 32, at most kMaxQ8Input) into a.
void quantize_q8_activations(const float* x, int64_t n_in, Q8Activations& a);

}  // namespace tern
