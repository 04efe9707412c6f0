#include "actors/publisher_acks.hpp"

#include <memory>
#include <string>
#include <utility>

#include <caf/send.hpp>

#include "cluster/wire_types.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

void acknowledge_publisher(const publish_batch& batch, const storage::status& outcome) {
  if (batch.acks.empty())
    return;
  inbound_qos2_outcome qos2{{}, outcome.ok()};
  for (const auto& ack : batch.acks)
    if (ack.exactly_once)
      qos2.packet_ids.push_back(ack.packet_id);
  if (!qos2.packet_ids.empty() && batch.publisher_session)
    caf::anon_send(batch.publisher_session, session_event{std::move(qos2)});
  if (!batch.publisher)
    return;
  if (!outcome && batch.publisher_version != mqtt::protocol_version::v5) {
    batch.publisher->abort();  // 3.1.1 cannot refuse a PUBLISH; the client resends after reconnecting
    return;
  }
  auto code = outcome                                               ? mqtt::reason_code::success
              : outcome.failure().code == storage::errc::store_full ? mqtt::reason_code::quota_exceeded
                                                                    : mqtt::reason_code::unspecified_error;
  std::string out;
  uint32_t pubacks = 0;
  for (const auto& ack : batch.acks) {
    auto type = ack.exactly_once ? mqtt::packet_type::pubrec : mqtt::packet_type::puback;
    mqtt::encode_ack(type, ack.packet_id, code, batch.publisher_version, out);
    pubacks += ack.exactly_once ? 0 : 1;
  }
  batch.publisher->write_publish_acks(std::make_shared<const std::string>(std::move(out)), pubacks);
}

uint8_t forward_ack_code(const storage::status& outcome) {
  if (outcome)
    return cluster::forward_ack::taken;
  return outcome.failure().code == storage::errc::store_full ? cluster::forward_ack::store_full
                                                             : cluster::forward_ack::failed;
}

storage::status forward_ack_status(uint8_t code) {
  switch (code) {
    case cluster::forward_ack::taken:
      return {};
    case cluster::forward_ack::store_full:
      return storage::error{storage::errc::store_full, "the owner of the topic's shard is full"};
    default:
      return storage::error{storage::errc::io_error, "the owner of the topic's shard did not take it"};
  }
}

}  // namespace mqhub::actors
