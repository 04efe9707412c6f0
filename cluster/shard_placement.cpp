#include "cluster/shard_placement.hpp"

#include <algorithm>

#include "cluster/stable_hash.hpp"

namespace mqhub::cluster {

shard_placement::shard_placement(std::vector<std::string> nodes, uint64_t version, size_t shard_count)
    : nodes_(std::move(nodes)), version_(version) {
  std::sort(nodes_.begin(), nodes_.end());
  if (nodes_.empty())
    return;
  std::vector<uint64_t> node_hashes;
  node_hashes.reserve(nodes_.size());
  for (const auto& node : nodes_)
    node_hashes.push_back(stable_hash(node));
  owner_.resize(shard_count);
  for (size_t shard = 0; shard < shard_count; ++shard) {
    uint32_t best = 0;
    uint64_t best_weight = 0;
    for (uint32_t n = 0; n < node_hashes.size(); ++n) {
      // Ties cannot depend on the input order: nodes_ is sorted, and the first of equal weights wins.
      uint64_t weight = mix(node_hashes[n], shard);
      if (n == 0 || weight > best_weight) {
        best = n;
        best_weight = weight;
      }
    }
    owner_[shard] = best;
  }
}

std::vector<size_t> shard_placement::shards_of(const std::string& node) const {
  std::vector<size_t> shards;
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), node);
  if (it == nodes_.end() || *it != node)
    return shards;
  auto index = static_cast<uint32_t>(it - nodes_.begin());
  for (size_t shard = 0; shard < owner_.size(); ++shard) {
    if (owner_[shard] == index)
      shards.push_back(shard);
  }
  return shards;
}

}  // namespace mqhub::cluster
