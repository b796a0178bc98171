#include "model/kv_cache.h"

#include <sys/mman.h>

#include <new>

namespace tern {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

KvStorage::KvStorage(int64_t n_bytes) {
  const size_t bytes = (static_cast<size_t>(n_bytes) + kHugePage - 1) / kHugePage * kHugePage;
  data_.reset(static_cast<char*>(std::aligned_alloc(kHugePage, bytes == 0 ? kHugePage : bytes)));
  if (!data_) throw std::bad_alloc();
  // Advice only: where huge pages are disabled the cache works with small pages.
  ::madvise(data_.get(), bytes, MADV_HUGEPAGE);
}

}  // namespace tern
