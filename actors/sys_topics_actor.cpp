#include "actors/sys_topics_actor.hpp"

#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>

#include "actors/messages.hpp"

namespace mqhub::actors {

namespace {

struct sys_tick {};

}  // namespace

}  // namespace mqhub::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mqhub::actors::sys_tick)

namespace mqhub::actors {

sys_topics_actor::sys_topics_actor(caf::actor_config& cfg, std::shared_ptr<const shard_map> shards,
                                   std::shared_ptr<broker_stats> stats, std::chrono::seconds interval,
                                   const std::string& cluster_node)
    : caf::event_based_actor(cfg),
      shards_(std::move(shards)),
      stats_(std::move(stats)),
      interval_(interval),
      prefix_(cluster_node.empty() ? "$SYS/broker/" : "$SYS/broker/" + cluster_node + "/"),
      clustered_(!cluster_node.empty()) {}

caf::behavior sys_topics_actor::make_behavior() {
  send(caf::actor_cast<caf::actor>(this), sys_tick{});
  return {
      [this](sys_tick) {
        publish_all();
        delayed_send(caf::actor_cast<caf::actor>(this), interval_, sys_tick{});
      },
  };
}

void sys_topics_actor::on_exit() {
  shards_.reset();
}

void sys_topics_actor::publish_all() {
  auto now = clock::now();
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - stats_->started_at).count();
  auto load = [](const auto& counter) { return std::to_string(counter.load(std::memory_order_relaxed)); };
  std::vector<std::pair<const char*, std::string>> values = {
      {"clients/connected", load(stats_->clients_connected)},
      {"messages/received", load(stats_->messages_received)},
      {"messages/sent", load(stats_->messages_sent)},
      {"messages/dropped", load(stats_->messages_dropped)},
      {"subscriptions/count", load(stats_->subscriptions)},
      {"retained messages/count", load(stats_->retained_messages)},
      {"uptime", std::to_string(uptime) + " seconds"},
  };
  if (clustered_) {
    values.emplace_back("cluster/nodes", load(stats_->cluster_nodes));
    values.emplace_back("cluster/shards owned", load(stats_->cluster_shards_owned));
    values.emplace_back("cluster/messages forwarded", load(stats_->messages_forwarded));
  }
  std::vector<publish_batch> batches(shards_->size());
  for (auto& [topic, value] : values) {
    net::mqtt::publish_packet publish;
    publish.topic = prefix_ + topic;
    publish.payload = std::move(value);
    publish.retain = true;
    auto shard = shards_->shard_of_topic(publish.topic);
    batches[shard].messages.push_back(make_message(std::move(publish), {}, now));
  }
  for (size_t i = 0; i < batches.size(); ++i)
    if (!batches[i].messages.empty())
      send((*shards_)[i], std::move(batches[i]));
}

}  // namespace mqhub::actors
