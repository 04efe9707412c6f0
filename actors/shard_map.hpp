#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

namespace mqhub::actors {

class shard_actor;

/// Which shard owns a topic: a hash of its first `levels` topic levels (docs/architecture.md). A filter with
/// a wildcard within those levels may match topics of every shard, so it is registered on all of them.
class shard_map {
 public:
  shard_map(std::vector<caf::actor> shards, size_t levels);

  size_t shard_of_topic(std::string_view topic) const;

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
  /// The shard as an object this process may call (see shard_actor::route_here); null for another kind of
  /// actor, such as a shard of another node.
  shard_actor* local(size_t index) const { return local_[index]; }
  size_t size() const { return shards_.size(); }
  const std::vector<caf::actor>& all() const { return shards_; }

 private:
  std::vector<caf::actor> shards_;
  std::vector<shard_actor*> local_;  // kept alive by shards_
  size_t levels_;
};

/// The first `levels` levels of `topic` (all of it when shorter), the part a shard is chosen by.
std::string_view shard_key(std::string_view topic, size_t levels);

}  // namespace mqhub::actors
