#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "actors/connection_sink.hpp"
#include "actors/shard_map.hpp"
#include "net/mqtt/packet.hpp"

namespace mqhub::actors {

/// Publishes a client's will through the shard of its topic.
void publish_will(const shard_map& shards, net::mqtt::will_message&& will, std::string_view client_id);

/// The DISCONNECT to close a connection with: one for MQTT 5, none for 3.1.1, which has no server DISCONNECT.
std::vector<out_buffer> disconnect_packets(net::mqtt::protocol_version version, net::mqtt::reason_code code,
                                           std::string reason = {});

}  // namespace mqhub::actors
