#include "actors/session_farewell.hpp"

#include <memory>
#include <utility>

#include <caf/send.hpp>

#include "actors/message.hpp"
#include "actors/messages.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

void publish_will(const shard_map& shards, net::mqtt::will_message&& will, std::string_view client_id) {
  auto msg = make_will_message(std::move(will), client_id, clock::now());
  const auto& shard = shards.route(shards.route_of_topic(msg->topic));
  caf::anon_send(shard, publish_batch::of(std::move(msg)));
}

std::vector<out_buffer> disconnect_packets(net::mqtt::protocol_version version, net::mqtt::reason_code code,
                                           std::string reason) {
  if (version != net::mqtt::protocol_version::v5)
    return {};
  net::mqtt::disconnect_packet packet{code, {}};
  if (!reason.empty())
    packet.props.reason_string = std::move(reason);
  std::string encoded;
  net::mqtt::encode(packet, version, encoded);
  return {std::make_shared<const std::string>(std::move(encoded))};
}

}  // namespace mqhub::actors
