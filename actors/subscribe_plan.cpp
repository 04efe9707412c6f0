#include "actors/subscribe_plan.hpp"

#include "net/mqtt/topic.hpp"

namespace mqhub::actors {

subscription_request_entry subscription_entry_of(std::string_view filter, uint8_t max_qos, bool no_local,
                                                 bool retain_as_published, uint8_t retain_handling,
                                                 uint32_t subscription_id) {
  subscription_request_entry entry;
  std::string_view group;
  std::string_view plain;
  if (net::mqtt::split_shared_filter(filter, group, plain)) {
    entry.filter = plain;
    entry.group = group;
  } else {
    entry.filter = filter;
  }
  entry.max_qos = max_qos;
  entry.no_local = no_local;
  entry.retain_as_published = retain_as_published;
  entry.retain_handling = retain_handling;
  entry.subscription_id = subscription_id;
  return entry;
}

subscribe_plan plan_subscribe(const net::mqtt::subscribe_packet& packet,
                              const std::vector<net::mqtt::reason_code>& verdicts, const shard_map& shards) {
  subscribe_plan plan;
  plan.requests.resize(shards.size());
  plan.entries.reserve(packet.subscriptions.size());
  uint32_t subscription_id =
      packet.props.subscription_identifiers.empty() ? 0 : packet.props.subscription_identifiers.front();
  for (size_t i = 0; i < packet.subscriptions.size(); ++i) {
    const auto& sub = packet.subscriptions[i];
    if (verdicts[i] != net::mqtt::reason_code::success) {
      plan.entries.emplace_back();
      continue;
    }
    auto entry = subscription_entry_of(sub.filter, static_cast<uint8_t>(sub.max_qos), sub.no_local,
                                       sub.retain_as_published, sub.retain_handling, subscription_id);
    shards.for_each_shard_of_filter(entry.filter,
                                    [&](size_t s) { plan.requests[s].entries.push_back(entry); });
    plan.entries.emplace_back(std::move(entry));
  }
  return plan;
}

}  // namespace mqhub::actors
