#include "storage/transient_entries.hpp"

namespace mqhub::storage {

transient_entries::transient_entries(std::span<const write_batch* const> batches) {
  for (const write_batch* batch : batches) {
    for (const auto& op : batch->operations()) {
      if (op.cf != column::queues) {
        continue;
      }
      if (op.kind == write_batch::op_kind::insert) {
        removed_.try_emplace(op.key, false);
      } else if (op.kind != write_batch::op_kind::del_range) {
        // A range delete needs no tracking: the keys it covers end absent either way.
        if (auto it = removed_.find(op.key); it != removed_.end()) {
          it->second = op.kind == write_batch::op_kind::del;
        }
      }
    }
  }
}

bool transient_entries::skips(const write_batch::operation& op) const {
  if (op.cf != column::queues || op.kind == write_batch::op_kind::del_range) {
    return false;
  }
  auto it = removed_.find(op.key);
  return it != removed_.end() && it->second;
}

}  // namespace mqhub::storage
