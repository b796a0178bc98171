// CandidateSet: the working set of (id, logit, prob) the sampling steps share.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tern/error.h"
#include "tern/sampler.h"

namespace tern {

void CandidateSet::assign(std::span<const float> logits) {
  if (logits.empty()) fail("sampler: logits are empty");
  if (logits.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("sampler: vocabulary of {} logits does not fit int32 ids", logits.size());
  }
  if (items_.size() < logits.size()) items_.resize(logits.size());  // grows once per vocab
  for (size_t i = 0; i < logits.size(); ++i) {
    items_[i] = Candidate{static_cast<int32_t>(i), logits[i], 0.0f};
  }
  size_ = logits.size();
  sorted_prefix_ = size_ == 1 ? 1 : 0;
  identity_ = true;
  probs_valid_ = false;
  normalized_ = false;
}

void CandidateSet::sort_prefix(size_t n) {
  n = std::min(n, size_);
  if (n <= sorted_prefix_) return;
  const auto first = items_.begin() + static_cast<std::ptrdiff_t>(sorted_prefix_);
  const auto mid = items_.begin() + static_cast<std::ptrdiff_t>(n);
  const auto last = items_.begin() + static_cast<std::ptrdiff_t>(size_);
  const size_t remaining = size_ - sorted_prefix_;
  const size_t wanted = n - sorted_prefix_;
  if (wanted == 1) {
    // One more: a linear scan beats nth_element.
    std::iter_swap(first, std::min_element(first, last, candidate_before));
  } else if (wanted * 64 <= remaining) {
    // Few out of many (top-k over a vocabulary): a heap of the `wanted` best seen so
    // far, worst on top; most candidates are rejected by one comparison.
    std::make_heap(first, mid, candidate_before);
    for (auto it = mid; it != last; ++it) {
      if (candidate_before(*it, *first)) {
        std::pop_heap(first, mid, candidate_before);
        std::iter_swap(mid - 1, it);
        std::push_heap(first, mid, candidate_before);
      }
    }
    std::sort_heap(first, mid, candidate_before);
  } else {
    if (mid != last) std::nth_element(first, mid, last, candidate_before);
    std::sort(first, mid, candidate_before);
  }
  sorted_prefix_ = n;
  identity_ = false;
}

void CandidateSet::truncate(size_t n) {
  if (n >= size_) return;
  size_ = n;
  sorted_prefix_ = std::min(sorted_prefix_, n);
  normalized_ = false;  // identity_ survives: the first n still hold ids 0..n-1 if it held
}

size_t CandidateSet::best_index() const {
  if (size_ == 0) fail("sampler: no candidates left");
  if (sorted_prefix_ > 0) return 0;
  const auto first = items_.begin();
  return static_cast<size_t>(std::min_element(first, first + static_cast<std::ptrdiff_t>(size_), candidate_before) -
                             first);
}

void CandidateSet::logits_changed(bool order_preserved) {
  probs_valid_ = false;
  normalized_ = false;
  if (!order_preserved) sorted_prefix_ = size_ == 1 ? 1 : 0;
}

void CandidateSet::softmax() {
  if (size_ == 0) fail("sampler: no candidates left");
  const float max_logit = items_[best_index()].logit;
  if (!std::isfinite(max_logit)) {
    // All -inf (or +inf / NaN): no meaningful scale, fall back to uniform.
    const float uniform = 1.0f / static_cast<float>(size_);
    for (size_t i = 0; i < size_; ++i) items_[i].prob = uniform;
  } else {
    double sum = 0.0;
    for (size_t i = 0; i < size_; ++i) {
      const float e = std::exp(items_[i].logit - max_logit);
      items_[i].prob = e;
      sum += e;
    }
    const double inv = 1.0 / sum;  // sum >= 1: the max contributes exp(0)
    for (size_t i = 0; i < size_; ++i) {
      items_[i].prob = static_cast<float>(items_[i].prob * inv);
    }
  }
  probs_valid_ = true;
  normalized_ = true;
}

void CandidateSet::normalize() {
  if (!probs_valid_) {
    softmax();
    return;
  }
  if (normalized_) return;
  double sum = 0.0;
  for (size_t i = 0; i < size_; ++i) sum += items_[i].prob;
  if (!(sum > 0.0) || !std::isfinite(sum)) {
    softmax();
    return;
  }
  const double inv = 1.0 / sum;
  for (size_t i = 0; i < size_; ++i) items_[i].prob = static_cast<float>(items_[i].prob * inv);
  normalized_ = true;
}

}  // namespace tern
