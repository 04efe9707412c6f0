#include "storage/node_identity.hpp"

#include "storage/key_encoding.hpp"
#include "storage/write_batch.hpp"

namespace mqhub::storage {

result<std::string> claim_node_name(database& db, std::string_view requested, std::string_view fallback) {
  auto stored = db.get(column::meta, node_name_key);
  if (!stored)
    return stored.failure();
  if (stored->has_value()) {
    const std::string& name = **stored;
    if (requested.empty() || requested == name)
      return name;
    return error{errc::identity_mismatch, "the data in " + db.directory().string() + " belongs to node '" +
                                              name + "', not '" + std::string(requested) +
                                              "'; start it with --node-name " + name +
                                              ", or give this node its own --data-dir"};
  }
  std::string name(requested.empty() ? fallback : requested);
  write_batch batch;
  batch.put(column::meta, std::string(node_name_key), name);
  // Past the store size limit too: a full store must still start, to be drained.
  const write_batch* one = &batch;
  if (auto written = db.write_group({&one, 1}, true); !written)
    return written.failure();
  return name;
}

}  // namespace mqhub::storage
