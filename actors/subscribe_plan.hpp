#pragma once

#include <vector>

#include "actors/messages.hpp"
#include "actors/shard_map.hpp"
#include "net/mqtt/packet.hpp"
#include "net/mqtt/reason_code.hpp"

namespace mqhub::actors {

/// The subscriptions of `packet` that `verdicts` accept, as entries and as requests to the shards that must
/// hold them (every shard for a filter with a wildcard among the levels shards are chosen by). The requests
/// carry no session, link or client id yet.
subscribe_plan plan_subscribe(const net::mqtt::subscribe_packet& packet,
                              const std::vector<net::mqtt::reason_code>& verdicts, const shard_map& shards);

/// The entry a subscription becomes (the `$share/{group}/` prefix split off).
subscription_request_entry subscription_entry_of(std::string_view filter, uint8_t max_qos, bool no_local,
                                                 bool retain_as_published, uint8_t retain_handling,
                                                 uint32_t subscription_id);

}  // namespace mqhub::actors
