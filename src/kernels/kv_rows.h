#pragma once
// How the attention kernels find a KV head's row for each cached position.
#include <cstdint>

#include "tern/kv_type.h"

namespace tern {

// Positions are stored in chunks of kChunkRows consecutive rows (row_stride apart);
// chunks are chunk_stride apart. A KV cache lays out every layer's rows of one chunk
// together (kv_cache.h), so its memory grows with the positions used; a plain array of
// rows is the case chunk_stride = kChunkRows * row_stride. Chunks of 16 match the
// AVX-512 kernel's blocks of 16 positions, whose rows are then always one chunk.
// Elements are floats or IEEE halves (type); strides count elements.
struct KvRows {
  static constexpr int64_t kChunkRows = 16;
  const void* data;
  int64_t row_stride;    // elements from one position's row to the next within a chunk
  int64_t chunk_stride;  // elements from one chunk's first row to the next chunk's
  KvType type = KvType::F32;

  // The row of position p as Element (float for F32, uint16_t for F16).
  template <typename Element>
  const Element* row_as(int64_t p) const {
    return static_cast<const Element*>(data) + (p / kChunkRows) * chunk_stride + (p % kChunkRows) * row_stride;
  }
  KvRows offset(int64_t elements) const {
    const auto* bytes = static_cast<const char*>(data) + elements * kv_type_bytes(type);
    return {bytes, row_stride, chunk_stride, type};
  }
};

}  // namespace tern
