#include "kernels/ternary_matrix.h"

#include <algorithm>

#include "tern/error.h"

namespace tern {
namespace {

// Where weight c of a row sits in the BitPlanes / OffsetCodes geometry: its byte within
// the row and the shift of its two bits.
struct CodeSlot {
  int64_t byte;
  int shift;
};
CodeSlot code_slot(int64_t c) {
  const int64_t chunk = c / TernaryMatrix::kChunkWeights, within = c % TernaryMatrix::kChunkWeights;
  return {chunk * TernaryMatrix::kChunkBytes + within % TernaryMatrix::kChunkBytes,
          static_cast<int>(2 * (within / TernaryMatrix::kChunkBytes))};
}

void pack_offset_codes(const TernaryWeights& w, TernaryMatrix& m) {
  m.row_stride = m.n_in_padded / 4;
  m.codes.assign(static_cast<size_t>(m.row_stride * m.n_rows), 0x55);  // every weight 0 (code 1)
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t c = 0; c < w.n_in; ++c) {
      const CodeSlot slot = code_slot(c);
      uint8_t& byte = m.codes[static_cast<size_t>(r * m.row_stride + slot.byte)];
      const unsigned code = static_cast<unsigned>(w.weights[r * w.n_in + c] + 1);
      byte = static_cast<uint8_t>((byte & ~(3u << slot.shift)) | (code << slot.shift));
    }
}

void pack_bit_planes(const TernaryWeights& w, TernaryMatrix& m) {
  m.row_stride = m.n_in_padded / 4;
  m.codes.assign(static_cast<size_t>(m.row_stride * m.n_rows), 0);
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t c = 0; c < w.n_in; ++c) {
      const int8_t value = w.weights[r * w.n_in + c];
      if (value == 0) continue;
      const int64_t chunk = c / TernaryMatrix::kChunkWeights, within = c % TernaryMatrix::kChunkWeights;
      const int shift = static_cast<int>(2 * (within / TernaryMatrix::kChunkBytes)) + (value < 0 ? 1 : 0);
      m.codes[static_cast<size_t>(r * m.row_stride + chunk * TernaryMatrix::kChunkBytes +
                                  within % TernaryMatrix::kChunkBytes)] |= static_cast<uint8_t>(1u << shift);
    }
}

uint16_t triple_word(const int8_t* row, TernaryMatrix::WordSpan span) {
  uint16_t word = 0;
  for (int j = 0; j < 3; ++j) {
    int index = 0;
    for (int k = 2; k >= 0; --k) {
      const int64_t i = 3 * j + k;
      index = 3 * index + (i < span.count ? row[span.first + i] + 1 : 1);
    }
    word = static_cast<uint16_t>(word | (index << (5 * j)));
  }
  return word;
}

void pack_trit_triples(const TernaryWeights& w, TernaryMatrix& m) {
  m.words_per_row = TernaryMatrix::words_for(w.n_in);
  const int64_t blocks = m.row_blocks(), rows = TernaryMatrix::kBlockRows;
  m.codes.assign(static_cast<size_t>(blocks * m.words_per_row * rows * 2), 0);
  auto* words = reinterpret_cast<uint16_t*>(m.codes.data());
  const uint16_t zero_word = triple_word(nullptr, {0, 0});  // index 13 (all weights 0) three times
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t s = 0; s < m.segments(); ++s) {
      const int64_t offset = m.segment_words(b, s) - words;
      for (int64_t k = 0; k < m.words_in_segment(s); ++k)
        for (int64_t lane = 0; lane < rows; ++lane) {
          const int64_t r = b * rows + lane, i = s * TernaryMatrix::kWordsPerSegment + k;
          words[offset + k * rows + lane] =
              r < w.n_rows ? triple_word(w.weights.data() + r * w.n_in, TernaryMatrix::word_span(w.n_in, i))
                           : zero_word;
        }
    }
  const int64_t groups = m.groups_per_row();
  m.lane_scales.assign(static_cast<size_t>(blocks * groups * rows), 0.0f);
  for (int64_t r = 0; r < w.n_rows; ++r)
    for (int64_t g = 0; g < groups; ++g)
      m.lane_scales[static_cast<size_t>(((r / rows) * groups + g) * rows + r % rows)] = w.scales[r * groups + g];
}

}  // namespace

TernaryMatrix::WordSpan TernaryMatrix::word_span(int64_t n_in, int64_t word) {
  const int64_t segment_begin = word / kWordsPerSegment * kSegmentWeights;
  const int64_t segment_end = std::min(n_in, segment_begin + kSegmentWeights);
  const int64_t first = segment_begin + word % kWordsPerSegment * kWordWeights;
  return {first, std::clamp<int64_t>(segment_end - first, 0, kWordWeights)};
}

int64_t TernaryMatrix::words_for(int64_t n_in) {
  const int64_t tail = n_in % kSegmentWeights;
  return n_in / kSegmentWeights * kWordsPerSegment + (tail + kWordWeights - 1) / kWordWeights;
}

TernaryMatrix TernaryMatrix::from_weights(const TernaryWeights& w, TernaryLayout layout) {
  if (w.group != w.n_in && !(w.group == kTernaryBlock && w.n_in % kTernaryBlock == 0))
    fail("internal: ternary scale groups of {} weights on rows of {}", w.group, w.n_in);
  TernaryMatrix m;
  m.layout = layout;
  m.n_in = w.n_in;
  m.n_in_padded = (w.n_in + kChunkWeights - 1) / kChunkWeights * kChunkWeights;
  m.n_rows = w.n_rows;
  m.group = w.group;
  m.scales = w.scales;
  if (layout == TernaryLayout::BitPlanes) pack_bit_planes(w, m);
  else if (layout == TernaryLayout::OffsetCodes) pack_offset_codes(w, m);
  else pack_trit_triples(w, m);
  return m;
}

int8_t TernaryMatrix::weight(int64_t row, int64_t col) const {
  if (layout == TernaryLayout::BitPlanes) {
    const int64_t chunk = col / kChunkWeights, within = col % kChunkWeights;
    const int shift = static_cast<int>(2 * (within / kChunkBytes));
    const uint8_t byte = codes[static_cast<size_t>(row * row_stride + chunk * kChunkBytes + within % kChunkBytes)];
    return static_cast<int8_t>(((byte >> shift) & 1) - ((byte >> (shift + 1)) & 1));
  }
  if (layout == TernaryLayout::OffsetCodes) {
    const CodeSlot slot = code_slot(col);
    return static_cast<int8_t>(((codes[static_cast<size_t>(row * row_stride + slot.byte)] >> slot.shift) & 3) - 1);
  }
  const int64_t within = col % kSegmentWeights;
  const uint16_t bits =
      segment_words(row / kBlockRows, col / kSegmentWeights)[within / kWordWeights * kBlockRows + row % kBlockRows];
  int index = (bits >> (5 * ((within % kWordWeights) / 3))) & 31;
  for (int64_t k = 0; k < within % 3; ++k) index /= 3;
  return static_cast<int8_t>(index % 3 - 1);
}

}  // namespace tern
