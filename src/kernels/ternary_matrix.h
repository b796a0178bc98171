#pragma once
// A ternary weight matrix in memory, repacked once at load into the layout the chosen
// kernels read. Two layouts:
//
// BitPlanes (scalar and AVX2): rows padded with zero weights to a multiple of 64 and
// cut into "small chunks" of 64 weights = 16 bytes. Byte j (0..15) of a chunk holds the
// four weights j, j+16, j+32, j+48 of that chunk, weight j+16g in bits 2g and 2g+1:
//   bit 2g   set: weight +1     bit 2g+1 set: weight -1     neither: 0
// Two bit-planes per weight, so a kernel turns a byte vector into "add" and "subtract"
// masks with one test each, and never multiplies by a weight.
//
// OffsetCodes (AVX2): the BitPlanes geometry (64-weight chunks of 16 bytes, weight j+16g
// of a chunk in bits 2g and 2g+1 of byte j), but the two bits hold weight + 1 (0, 1 or
// 2) as an unsigned number; padding weights are 0 (code 1). A shift and a mask give each
// weight as an unsigned byte that VPMADDUBSW pairs with the signed activations directly;
// the +1 comes back out as the activations' sum over the scale group.
//
// TritTriples (AVX-512): three consecutive weights (t0, t1, t2) form one base-3 index
// e = (t0 + 1) + 3 (t1 + 1) + 9 (t2 + 1) in 0..26, the entry of a 27-entry table of
// that activation triple's signed sums (built per token; a table lookup replaces the
// adds and subtracts of three weights). A 16-bit word holds three indices (bits 0-4,
// 5-9, 10-14), i.e. nine weights: 1.78 bits per weight. Rows are cut into segments of
// 256 weights (the TQ scale block, and the most an int16 sum of int8 activations can
// hold exactly), each padded to kWordsPerSegment words; the last segment of a row takes
// as many words as it needs. Rows go in blocks of 32, word-major: word i of the 32 rows
// of a block is one 64-byte vector, one row per 16-bit lane. The matrix is stored
// segment-major: segment 0 of every block, then segment 1 of every block, ... so that
// the kernels, which take a segment of all blocks at a time (its activation table stays
// in L1), read the words as one forward stream.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/ternary_formats.h"

namespace tern {

enum class TernaryLayout { BitPlanes, TritTriples, OffsetCodes };

struct TernaryMatrix {
  // BitPlanes
  static constexpr int64_t kChunkWeights = 64;
  static constexpr int64_t kChunkBytes = 16;
  // TritTriples
  static constexpr int64_t kWordWeights = 9;
  static constexpr int64_t kSegmentWeights = 256;
  static constexpr int64_t kWordsPerSegment = (kSegmentWeights + kWordWeights - 1) / kWordWeights;  // 29
  static constexpr int64_t kBlockRows = 32;

  TernaryLayout layout = TernaryLayout::BitPlanes;
  int64_t n_in = 0;           // columns (input length)
  int64_t n_in_padded = 0;    // n_in rounded up to a multiple of 64
  int64_t n_rows = 0;         // rows (output length)
  int64_t group = 0;          // weights per scale along a row: n_in, or 256 (TQ blocks)
  int64_t row_stride = 0;     // BitPlanes, OffsetCodes: bytes per row = n_in_padded / 4
  int64_t words_per_row = 0;  // TritTriples: 16-bit words per row (words_for(n_in))
  // BitPlanes, OffsetCodes: [n_rows, row_stride];
  // TritTriples: [segments, n_rows / 32 (rounded up), words of the segment, 32] uint16
  AlignedBuffer<uint8_t> codes;
  std::vector<float> scales;  // [n_rows, n_in / group]
  // TritTriples: the scales again, one vector of 32 lanes per block and group (0 past n_rows).
  std::vector<float> lane_scales;  // [n_rows / 32 (rounded up), n_in / group, 32]
  // Whether the codes come from memory at every use (the model is larger than the
  // last-level cache; set at load): one-token kernels that can fetch rows ahead do so
  // only then, since for a model the cache holds the extra instructions only cost.
  bool streamed = true;

  static TernaryMatrix from_weights(const TernaryWeights& w, TernaryLayout layout = TernaryLayout::BitPlanes);
  // Words a row of n_in weights takes in the TritTriples layout.
  static int64_t words_for(int64_t n_in);
  // TritTriples: the first column word `word` of a row covers, and how many of its nine
  // weights are real (the rest pad a segment: zero weights, zero activations).
  struct WordSpan {
    int64_t first;
    int64_t count;
  };
  static WordSpan word_span(int64_t n_in, int64_t word);
  int64_t groups_per_row() const { return n_in / group; }
  int64_t row_blocks() const { return (n_rows + kBlockRows - 1) / kBlockRows; }
  int64_t segments() const { return (words_per_row + kWordsPerSegment - 1) / kWordsPerSegment; }
  // TritTriples: words of segment s (29, fewer for a short last segment).
  int64_t words_in_segment(int64_t s) const { return std::min(kWordsPerSegment, words_per_row - s * kWordsPerSegment); }
  // TritTriples: the first word (32 lanes) of segment s of block b; its words follow.
  const uint16_t* segment_words(int64_t block, int64_t s) const {
    const int64_t before = s * kWordsPerSegment * row_blocks() + block * words_in_segment(s);
    return reinterpret_cast<const uint16_t*>(codes.data()) + before * kBlockRows;
  }
  int8_t weight(int64_t row, int64_t col) const;
  uint64_t bytes() const { return codes.size() + scales.size() * sizeof(float); }
};

}  // namespace tern
