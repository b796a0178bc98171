#pragma once
// How the attention kernels find a KV head's row for each cached position.
#include <cstdint>

namespace tern {

// Positions are stored in chunks of kChunkRows consecutive rows (row_stride apart);
// chunks are chunk_stride apart. A KV cache lays out every layer's rows of one chunk
// together (kv_cache.h), so its memory grows with the positions used; a plain array of
// rows is the case chunk_stride = kChunkRows * row_stride. Chunks of 16 match the
// AVX-512 kernel's blocks of 16 positions, whose rows are then always one chunk.
struct KvRows {
  static constexpr int64_t kChunkRows = 16;
  const float* data;
  int64_t row_stride;    // floats from one position's row to the next within a chunk
  int64_t chunk_stride;  // floats from one chunk's first row to the next chunk's

  const float* row(int64_t p) const { return data + (p / kChunkRows) * chunk_stride + (p % kChunkRows) * row_stride; }
  KvRows offset(int64_t floats) const { return {data + floats, row_stride, chunk_stride}; }
};

}  // namespace tern
