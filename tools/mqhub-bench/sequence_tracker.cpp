#include "tools/mqhub-bench/sequence_tracker.hpp"

#include <algorithm>
#include <bit>

namespace mqhub::bench {

void sequence_tracker::record(uint64_t sequence) {
  ++received_;
  const size_t word = sequence / 64;
  if (word >= seen_.size())
    seen_.resize(std::max(word + 1, seen_.size() * 2), 0);
  const uint64_t bit = uint64_t{1} << (sequence % 64);
  if ((seen_[word] & bit) != 0)
    return;
  seen_[word] |= bit;
  ++unique_;
  if (sequence < next_)
    ++reordered_;
  else
    next_ = sequence + 1;
}

void sequence_tracker::merge(const sequence_tracker& other) {
  if (other.seen_.size() > seen_.size())
    seen_.resize(other.seen_.size(), 0);
  uint64_t unique = 0;
  for (size_t i = 0; i < seen_.size(); ++i) {
    if (i < other.seen_.size())
      seen_[i] |= other.seen_[i];
    unique += static_cast<uint64_t>(std::popcount(seen_[i]));
  }
  received_ += other.received_;
  unique_ = unique;
  reordered_ += other.reordered_;
  next_ = std::max(next_, other.next_);
}

}  // namespace mqhub::bench
