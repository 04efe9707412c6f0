#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

namespace mqhub::actors {

class shard_actor;

/// Which shard owns a topic: a hash of its first `levels` topic levels (docs/architecture.md). A filter with
/// a wildcard within those levels may match topics of every shard, so it is registered on all of them.
///
/// In a cluster the same hash also picks one of the cluster's global shards, which the nodes share out
/// (cluster::shard_placement). A publish for a global shard another node owns goes to the cluster route, the
/// actor that forwards it there (cluster_router); everything else about a topic (its subscriptions, its
/// retained message, the deliveries forwarded to this node) stays with the local shard the hash picks.
class shard_map {
 public:
  /// `cluster_route` null: a single node, which owns every topic.
  shard_map(std::vector<caf::actor> shards, size_t levels, caf::actor cluster_route = {});

  /// The local shard of a topic, whoever owns it in the cluster.
  size_t shard_of_topic(std::string_view topic) const;

  /// The cluster's global shard of a topic (cluster::shard_placement).
  size_t global_shard_of_topic(std::string_view topic) const;

  /// Where a PUBLISH of `topic` goes: a local shard's index, or cluster_route_index() when another node owns
  /// the topic.
  size_t route_of_topic(std::string_view topic) const;
  size_t route_count() const { return shards_.size() + (cluster_route_ ? 1 : 0); }
  size_t cluster_route_index() const { return shards_.size(); }
  const caf::actor& route(size_t index) const {
    return index < shards_.size() ? shards_[index] : cluster_route_;
  }

  /// Which global shards this node owns (cluster::shard_placement), as the membership changes. Readers see
  /// each shard's owner change at once; a message already on its way keeps the route it took.
  void set_owned(const std::vector<bool>& owned) const;

  /// The one shard that can hold matches of `filter` (a plain filter), or nullopt for all shards.
  std::optional<size_t> shard_of_filter(std::string_view filter) const;

  /// Calls `visit(index)` for each shard that must hold a subscription to `filter`.
  template <class Visit>
  void for_each_shard_of_filter(std::string_view filter, Visit&& visit) const {
    if (auto pin = shard_of_filter(filter)) {
      visit(*pin);
      return;
    }
    for (size_t i = 0; i < shards_.size(); ++i)
      visit(i);
  }

  const caf::actor& operator[](size_t index) const { return shards_[index]; }
  /// The route as an object this process may call (see shard_actor::route_here); null for another kind of
  /// actor, such as the cluster route.
  shard_actor* local(size_t index) const { return index < local_.size() ? local_[index] : nullptr; }
  size_t size() const { return shards_.size(); }
  const std::vector<caf::actor>& all() const { return shards_; }

 private:
  std::vector<caf::actor> shards_;
  std::vector<shard_actor*> local_;  // kept alive by shards_
  size_t levels_;
  caf::actor cluster_route_;
  /// Per global shard, whether this node owns it; only with a cluster route.
  std::unique_ptr<std::atomic<bool>[]> owned_;
};

/// The first `levels` levels of `topic` (all of it when shorter), the part a shard is chosen by.
std::string_view shard_key(std::string_view topic, size_t levels);

}  // namespace mqhub::actors
