#include "tools/mqhub-bench/publish_view.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace {

using namespace mqhub;
namespace mqtt = net::mqtt;

/// A PUBLISH as the broker encodes it: the fixed header's first byte and the body.
struct wire_publish {
  uint8_t first_byte = 0;
  std::vector<uint8_t> body;
};

wire_publish encoded(const mqtt::publish_packet& p, mqtt::protocol_version version) {
  std::string out;
  mqtt::encode(p, version, out);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  const auto f = mqtt::peek_frame(bytes, 0);
  return {f.first_byte, {bytes.begin() + static_cast<std::ptrdiff_t>(f.header_size), bytes.end()}};
}

mqtt::publish_packet publish(mqtt::qos q, uint16_t packet_id) {
  mqtt::publish_packet p;
  p.topic = "bench/3";
  p.payload = "stamp and padding";
  p.qos_level = q;
  p.packet_id = packet_id;
  return p;
}

TEST(publish_view, reads_qos_packet_id_and_payload_in_both_versions) {
  for (auto version : {mqtt::protocol_version::v311, mqtt::protocol_version::v5}) {
    auto p = publish(mqtt::qos::at_least_once, 513);
    if (version == mqtt::protocol_version::v5)
      p.props.user_properties.emplace_back("skipped", "unread");
    const auto wire = encoded(p, version);
    const auto view = bench::view_publish(wire.first_byte, wire.body, version);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->qos_level, mqtt::qos::at_least_once);
    EXPECT_EQ(view->packet_id, 513);
    EXPECT_EQ(view->payload, "stamp and padding");
  }
  const auto wire = encoded(publish(mqtt::qos::at_most_once, 0), mqtt::protocol_version::v311);
  const auto view = bench::view_publish(wire.first_byte, wire.body, mqtt::protocol_version::v311);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->packet_id, 0);
  EXPECT_EQ(view->payload, "stamp and padding");
}

TEST(publish_view, refuses_lengths_that_do_not_add_up) {
  auto wire = encoded(publish(mqtt::qos::at_least_once, 7), mqtt::protocol_version::v5);
  const auto v5 = mqtt::protocol_version::v5;
  auto topic_too_long = wire.body;
  topic_too_long[1] = 0xFF;
  EXPECT_FALSE(bench::view_publish(wire.first_byte, topic_too_long, v5));
  auto properties_too_long = wire.body;
  properties_too_long[2 + 7 + 2] = 0x7F;  // past the topic and the packet id: the property length
  EXPECT_FALSE(bench::view_publish(wire.first_byte, properties_too_long, v5));
  EXPECT_FALSE(bench::view_publish(wire.first_byte, std::span(wire.body).first(10), v5));  // no packet id
  EXPECT_FALSE(bench::view_publish(wire.first_byte | 0x06, wire.body, v5));                // QoS 3
  auto id_zero = wire.body;
  id_zero[2 + 7] = id_zero[2 + 7 + 1] = 0;
  EXPECT_FALSE(bench::view_publish(wire.first_byte, id_zero, v5));
}

}  // namespace
