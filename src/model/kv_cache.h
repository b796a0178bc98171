#pragma once
// Keys and values of every executed layer (shared blocks get one slot per run).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "kernels/kv_rows.h"

namespace tern {

// Storage for a KV cache, left uninitialized and backed by transparent huge pages
// where the kernel offers them. Why: a cache's pages are first touched one position at a
// time during decoding, and on virtual machines a 4 KiB page fault costs ~10 us; on the
// 125M shape 8 sequences took ~90 faults per decode step, 13% of its time. A 2 MiB page
// faults once for 512 of them. Untouched pages never become resident. Even a cache far
// smaller than 2 MiB gains: zeroing one huge page costs less than its ~60 small faults
// (measured on the 2.4 MB tern-kjv model: small pages made decoding 15% slower).
class KvStorage {
 public:
  explicit KvStorage(int64_t n_bytes);
  char* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data_;
};

// Positions go in chunks of KvRows::kChunkRows, and a chunk holds that many positions of
// every layer: [n_chunks, n_layers, kChunkRows, n_kv_heads, head_dim] (+ padding). So a sequence's
// memory grows from the front as it gets longer, in whole huge pages, instead of
// touching one page per layer from its first token on (a layer-major cache of 2048
// positions would make ~94 MB resident per sequence on the 125M shape at once).
// Elements are floats or IEEE halves (type). Left uninitialized: a position is always
// written before it is read.
struct KvCache {
  int64_t n_layers = 0;
  int64_t n_ctx = 0;
  int64_t kv_dim = 0;  // n_kv_heads * head_dim
  KvType type = KvType::F32;
  KvStorage k;  // [n_chunks, n_layers, kChunkRows, n_kv_heads, head_dim]
  KvStorage v;  // [n_chunks, n_layers, kChunkRows, n_kv_heads, head_dim]

  KvCache(int64_t layers, int64_t ctx, int64_t kv_width, KvType element_type = KvType::F32)
      : n_layers(layers), n_ctx(ctx), kv_dim(kv_width), type(element_type), k(storage_bytes()), v(storage_bytes()) {}

  // Elements [begin, end) of the key and value rows of (layer, pos), from floats
  // (to_f16 rounds them for an F16 cache: the kernel table's conversion).
  using ToF16 = void (*)(const float* x, int64_t n, uint16_t* out);
  void store_key(int64_t layer, int64_t pos, const float* row, int64_t begin, int64_t end, ToF16 to_f16) {
    store(k, layer, pos, row, begin, end, to_f16);
  }
  void store_value(int64_t layer, int64_t pos, const float* row, int64_t begin, int64_t end, ToF16 to_f16) {
    store(v, layer, pos, row, begin, end, to_f16);
  }
  KvRows key_rows(int64_t layer) const { return rows(k, layer); }
  KvRows value_rows(int64_t layer) const { return rows(v, layer); }
  uint64_t bytes() const { return static_cast<uint64_t>(2 * n_layers * n_ctx * kv_dim * kv_type_bytes(type)); }
  // Makes every page resident now (zeros), for benchmarks that time steady-state steps.
  void prefault() {
    const auto n = static_cast<size_t>(storage_bytes());
    std::fill_n(k.data(), n, char{0});
    std::fill_n(v.data(), n, char{0});
  }

 private:
  static constexpr int64_t kChunk = KvRows::kChunkRows;
  int64_t storage_bytes() const { return (n_ctx + kChunk - 1) / kChunk * chunk_elements() * kv_type_bytes(type); }
  // One 64-byte line more when a chunk would be an even number of lines: chunks a power
  // of two apart in memory (the 125M shape's are 90 * 4 KiB) put one layer's rows of every
  // chunk in the same L1 set, and attention reads them all.
  int64_t chunk_elements() const {
    const int64_t per_line = 64 / kv_type_bytes(type);
    const int64_t lines = (n_layers * kChunk * kv_dim + per_line - 1) / per_line;
    return (lines | 1) * per_line;
  }
  int64_t offset(int64_t layer, int64_t pos) const {
    return pos / kChunk * chunk_elements() + (layer * kChunk + pos % kChunk) * kv_dim;
  }
  void store(const KvStorage& s, int64_t layer, int64_t pos, const float* row, int64_t begin, int64_t end,
             ToF16 to_f16) const {
    const int64_t at = offset(layer, pos) + begin;
    if (type == KvType::F16) to_f16(row + begin, end - begin, reinterpret_cast<uint16_t*>(s.data()) + at);
    else std::copy(row + begin, row + end, reinterpret_cast<float*>(s.data()) + at);
  }
  KvRows rows(const KvStorage& s, int64_t layer) const {
    return {s.data() + layer * kChunk * kv_dim * kv_type_bytes(type), kv_dim, chunk_elements(), type};
  }
};

}  // namespace tern
