#include "model/schedule.h"

#include <algorithm>
#include <vector>

namespace tern {

bool runs_data_parallel(ForwardScratch& s, std::span<KvCache* const> caches) {
  const int64_t threads = s.pool->size();
  if (threads == 1 || static_cast<int64_t>(caches.size()) < kMinTokensPerThreadToSplitTokens * threads) return false;
  std::vector<KvCache*>& sorted = s.sorted_caches;
  sorted.assign(caches.begin(), caches.end());
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
}

}  // namespace tern
