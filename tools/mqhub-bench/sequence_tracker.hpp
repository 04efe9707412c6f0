#pragma once

#include <cstdint>
#include <vector>

namespace mqhub::bench {

/// The sequences one subscriber saw from one publisher: a bit per sequence, so duplicates are told apart
/// from late arrivals exactly and shared-subscription members can be merged at the end.
class sequence_tracker {
 public:
  void record(uint64_t sequence);

  /// Adds another member's bits (shared subscription): a sequence seen by both counts as a duplicate.
  void merge(const sequence_tracker& other);

  uint64_t received() const { return received_; }
  uint64_t unique() const { return unique_; }
  uint64_t duplicated() const { return received_ - unique_; }
  uint64_t reordered() const { return reordered_; }

 private:
  std::vector<uint64_t> seen_;
  uint64_t next_ = 0;  // highest sequence so far + 1
  uint64_t received_ = 0;
  uint64_t unique_ = 0;
  uint64_t reordered_ = 0;
};

}  // namespace mqhub::bench
