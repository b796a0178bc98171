#pragma once
// A Q8_0 matrix (the LM head) repacked for VPDPBUSD with broadcast activations: rows in
// groups of 16, and within a group, for every 4 inputs, the 16 rows' 4 int8 weights side
// by side (one 64-byte vector: one row per 32-bit lane). One VPDPBUSD then adds 4
// products for 16 rows at once, against a 4-byte activation broadcast, instead of
// reducing every row's dot product across lanes. VPDPBUSD multiplies unsigned by signed
// bytes: the weights are stored as unsigned w + 128 and the activations stay signed, so
// that the broadcast activation can be the instruction's memory operand; 128 * the sum
// of each block's activations is subtracted back. Same integer products as the Q8_0
// kernel, so the same results up to float summation order.
#include <cstdint>
#include <vector>

#include "kernels/aligned_buffer.h"

namespace tern {

struct Q8RowGroups {
  static constexpr int64_t kGroupRows = 16;
  static constexpr int64_t kBlock = 32;  // Q8_0 block: one scale per 32 inputs

  int64_t n_in = 0;  // a multiple of 32
  int64_t n_rows = 0;
  AlignedBuffer<uint8_t> weights;  // [groups, n_in / 4, 16 rows, 4] w + 128
  // [groups, n_in / 32, 16] each block's scale as the Q8_0 block stores it (IEEE half,
  // 0 past n_rows): half the bytes of floats, and the head is read once per token.
  std::vector<uint16_t> scales;

  int64_t groups() const { return (n_rows + kGroupRows - 1) / kGroupRows; }
  int64_t blocks() const { return n_in / kBlock; }

  // Storage for n_rows rows of n_in inputs, filled by pack_rows.
  static Q8RowGroups allocate(int64_t n_in, int64_t n_rows);
  // Rows [row_begin, row_end) from Q8_0 data (rows of n_in / 32 blocks of 34 bytes).
  // Calls for disjoint ranges whose bounds are multiples of 16 (or n_rows) may run at
  // the same time on different threads.
  void pack_rows(const uint8_t* data, int64_t row_begin, int64_t row_end);
  // allocate + pack_rows over all rows.
  static Q8RowGroups from_q8_0(const uint8_t* data, int64_t n_in, int64_t n_rows);
};

}  // namespace tern
