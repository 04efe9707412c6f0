#pragma once

#include <span>
#include <string_view>
#include <unordered_map>

#include "storage/write_batch.hpp"

namespace mqhub::storage {

/// The queue entries that one group of batches both creates and removes: a delivery acknowledged before the
/// entry that records it was written. Such a key did not exist before the group and does not after it, so
/// the group can leave out every operation on it; durable QoS 1 then writes nothing for a message its
/// subscriber acknowledged within one commit.
class transient_entries {
 public:
  /// The batches must outlive this object: it keeps views of their keys.
  explicit transient_entries(std::span<const write_batch* const> batches);

  /// Whether `op` is one of the operations on a transient entry.
  bool skips(const write_batch::operation& op) const;

 private:
  /// A queue key ends in its sequence, unique per delivery: hashing those 8 bytes is enough, and it runs for
  /// every queue operation on the writer's thread.
  struct sequence_hash {
    size_t operator()(std::string_view key) const;
  };

  /// Keys inserted in the group; true while their last operation is a delete.
  std::unordered_map<std::string_view, bool, sequence_hash> removed_;
  bool any_removed_ = false;  // the common group without acknowledgements looks nothing up
};

}  // namespace mqhub::storage
