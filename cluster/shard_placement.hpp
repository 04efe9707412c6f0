#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mqhub::cluster {

/// The number of shards topics hash to, the same on every node of every cluster: a topic's shard never
/// depends on how many nodes there are, only the shard's owner does.
inline constexpr size_t global_shard_count = 1024;

/// Which node owns each shard, derived from the member names alone, so that every node computes the same
/// placement from the same membership without asking anyone. Rendezvous (highest random weight) hashing:
/// a shard goes to the node with the highest mix(hash(node), shard). When a node joins, it takes about 1/N
/// of the shards and no shard moves between two nodes that both stayed; when one leaves, only its shards
/// move.
class shard_placement {
 public:
  /// `nodes` in any order and without duplicates; an empty list owns nothing.
  shard_placement(std::vector<std::string> nodes, uint64_t version, size_t shard_count = global_shard_count);

  /// The name of the node that owns `shard`.
  const std::string& owner(size_t shard) const { return nodes_[owner_[shard]]; }
  /// The shards `node` owns, ascending.
  std::vector<size_t> shards_of(const std::string& node) const;
  /// The member names, sorted.
  const std::vector<std::string>& nodes() const { return nodes_; }
  size_t shard_count() const { return owner_.size(); }
  /// Increases with every membership change this node has seen; a newer placement replaces an older one.
  uint64_t version() const { return version_; }

 private:
  std::vector<std::string> nodes_;
  std::vector<uint32_t> owner_;  // index into nodes_, per shard
  uint64_t version_;
};

}  // namespace mqhub::cluster
