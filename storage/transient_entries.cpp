#include "storage/transient_entries.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>

namespace mqhub::storage {

size_t transient_entries::sequence_hash::operator()(std::string_view key) const {
  uint64_t tail = 0;
  const size_t n = std::min(key.size(), sizeof tail);
  std::memcpy(&tail, key.data() + key.size() - n, n);
  return std::hash<uint64_t>{}(tail * 0x9E3779B97F4A7C15ULL);  // spread: std::hash of an integer is itself
}

transient_entries::transient_entries(std::span<const write_batch* const> batches) {
  for (const write_batch* batch : batches) {
    for (const auto& op : batch->operations()) {
      if (op.cf != column::queues) {
        continue;
      }
      if (op.kind == write_batch::op_kind::insert) {
        removed_.insert_or_assign(op.key, false);
      } else if (op.kind != write_batch::op_kind::del_range) {
        // A range delete needs no tracking: the keys it covers end absent either way.
        if (auto it = removed_.find(op.key); it != removed_.end()) {
          it->second = op.kind == write_batch::op_kind::del;
          any_removed_ = any_removed_ || it->second;
        }
      }
    }
  }
}

bool transient_entries::skips(const write_batch::operation& op) const {
  if (!any_removed_ || op.cf != column::queues || op.kind == write_batch::op_kind::del_range) {
    return false;
  }
  auto it = removed_.find(op.key);
  return it != removed_.end() && it->second;
}

}  // namespace mqhub::storage
