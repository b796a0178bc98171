#pragma once
// The on-disk ternary layouts (docs/FORMAT.md 2.1-2.3, 2.5, 2.6), decoded to and encoded
// from plain weights in {-1, 0, +1} plus their scales.
#include <cstdint>
#include <span>
#include <vector>

#include "io/tensor_type.h"

namespace tern {

constexpr int kTernaryBlock = 256;  // weights per TQ1_0 / TQ2_0 block
constexpr int kTq1BlockBytes = 54;
constexpr int kTq2BlockBytes = 66;

// One ternary tensor in plain form: weights[r * n_in + c] in {-1, 0, 1};
// scales[r * groups_per_row + g] scales weights c in [g * group, (g + 1) * group).
struct TernaryWeights {
  int64_t n_in = 0;
  int64_t n_rows = 0;
  int64_t group = 0;            // n_in for one scale per tensor/row, 256 for TQ blocks
  std::vector<int8_t> weights;  // [n_rows, n_in]
  std::vector<float> scales;    // [n_rows, n_in / group]
  int64_t groups_per_row() const { return n_in / group; }
};

// Decodes a whole tensor of `type` (TQ1_0, TQ2_0, TERN2, TERN2R or I2_S). Throws on
// invalid codes or non-finite scales, naming `tensor_name`.
TernaryWeights decode_ternary(TensorType type, std::span<const uint8_t> data, int64_t n_in, int64_t n_rows,
                              const std::string& tensor_name);
// Encodes plain weights as `type`. TQ types take their per-block scales from
// `w.scales` (group must be 256); TERN2 takes the single scale w.scales[0] and
// requires every scale to be equal; TERN2R takes one scale per row (group n_in).
std::vector<uint8_t> encode_ternary(TensorType type, const TernaryWeights& w);

// Single blocks, exposed for tests: 256 weights in, 256 out.
void decode_tq1_0_block(const uint8_t* block, int8_t* weights, float* scale);
void decode_tq2_0_block(const uint8_t* block, int8_t* weights, float* scale);
void encode_tq1_0_block(const int8_t* weights, float scale, uint8_t* block);
void encode_tq2_0_block(const int8_t* weights, float scale, uint8_t* block);

}  // namespace tern
