#include "actors/shard_map.hpp"

#include <utility>

#include <caf/actor_cast.hpp>

#include "actors/shard_actor.hpp"
#include "cluster/shard_placement.hpp"
#include "cluster/stable_hash.hpp"

namespace mqhub::actors {

std::string_view shard_key(std::string_view topic, size_t levels) {
  // A plain loop: topics are short, and a memchr call per level showed in profiles.
  size_t level = 0;
  for (size_t i = 0; i < topic.size(); ++i) {
    if (topic[i] == '/' && ++level == levels)
      return topic.substr(0, i);
  }
  return topic;
}

shard_map::shard_map(std::vector<caf::actor> shards, size_t levels, caf::actor cluster_route)
    : shards_(std::move(shards)), levels_(levels), cluster_route_(std::move(cluster_route)) {
  for (const auto& shard : shards_)
    local_.push_back(shard ? dynamic_cast<shard_actor*>(caf::actor_cast<caf::abstract_actor*>(shard))
                           : nullptr);
  if (cluster_route_) {
    owned_ = std::make_unique<std::atomic<bool>[]>(cluster::global_shard_count);
    for (size_t i = 0; i < cluster::global_shard_count; ++i)
      owned_[i].store(true, std::memory_order_relaxed);
  }
}

size_t shard_map::shard_of_topic(std::string_view topic) const {
  return cluster::stable_hash(shard_key(topic, levels_)) % shards_.size();
}

size_t shard_map::global_shard_of_topic(std::string_view topic) const {
  return cluster::stable_hash(shard_key(topic, levels_)) % cluster::global_shard_count;
}

size_t shard_map::route_of_topic(std::string_view topic) const {
  auto hash = cluster::stable_hash(shard_key(topic, levels_));
  if (owned_ && !owned_[hash % cluster::global_shard_count].load(std::memory_order_relaxed))
    return cluster_route_index();
  return hash % shards_.size();
}

void shard_map::set_owned(const std::vector<bool>& owned) const {
  if (!owned_)
    return;
  for (size_t i = 0; i < cluster::global_shard_count && i < owned.size(); ++i)
    owned_[i].store(owned[i], std::memory_order_relaxed);
}

std::optional<size_t> shard_map::shard_of_filter(std::string_view filter) const {
  auto key = shard_key(filter, levels_);
  if (key.find_first_of("+#") != std::string_view::npos)
    return std::nullopt;
  return shard_of_topic(key);
}

}  // namespace mqhub::actors
