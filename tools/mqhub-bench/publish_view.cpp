#include "tools/mqhub-bench/publish_view.hpp"

#include "net/mqtt/wire.hpp"

namespace mqhub::bench {

namespace mqtt = net::mqtt;

std::optional<publish_view> view_publish(uint8_t first_byte, std::span<const uint8_t> body,
                                         mqtt::protocol_version version) {
  publish_view view;
  const auto qos = static_cast<uint8_t>((first_byte >> 1) & 0x03);
  if (qos == 3 || body.size() < 2)
    return std::nullopt;
  view.qos_level = static_cast<mqtt::qos>(qos);
  size_t at = 2 + (size_t{body[0]} << 8 | body[1]);  // past the topic
  if (qos > 0) {
    if (at + 2 > body.size())
      return std::nullopt;
    view.packet_id = static_cast<uint16_t>(body[at] << 8 | body[at + 1]);
    if (view.packet_id == 0)
      return std::nullopt;
    at += 2;
  }
  if (version == mqtt::protocol_version::v5) {
    if (at > body.size())
      return std::nullopt;
    mqtt::wire_reader properties(body.subspan(at));
    uint32_t length = 0;
    if (!properties.variable_byte_integer(length) || length > properties.remaining())
      return std::nullopt;
    at += properties.position() + length;
  }
  if (at > body.size())
    return std::nullopt;
  const auto payload = body.subspan(at);
  view.payload = {reinterpret_cast<const char*>(payload.data()), payload.size()};
  return view;
}

}  // namespace mqhub::bench
