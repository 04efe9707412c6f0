#include "net/outbound_topic_aliases.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::net {
namespace {

using actors::out_buffer;
constexpr auto v5 = mqtt::protocol_version::v5;

std::string publish_bytes(const std::string& topic, const std::string& payload,
                          mqtt::qos q = mqtt::qos::at_most_once, uint16_t packet_id = 0) {
  mqtt::publish_packet p;
  p.topic = topic;
  p.payload = payload;
  p.qos_level = q;
  p.packet_id = packet_id;
  std::string out;
  mqtt::encode(p, v5, out);
  return out;
}

out_buffer buffer(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

/// The packets in `buffers`, decoded, as the client reads them from the socket.
std::vector<mqtt::packet> decoded(const std::vector<out_buffer>& buffers) {
  std::string all;
  for (const auto& b : buffers)
    all += *b;
  std::vector<mqtt::packet> packets;
  std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(all.data()), all.size());
  while (!rest.empty()) {
    auto f = mqtt::peek_frame(rest, 0);
    EXPECT_EQ(f.state, mqtt::frame::status::complete);
    auto p = mqtt::decode_packet(f.first_byte, rest.subspan(f.header_size, f.remaining_length), v5);
    EXPECT_TRUE(static_cast<bool>(p));
    packets.push_back(std::move(*p));
    rest = rest.subspan(f.total_size());
  }
  return packets;
}

const mqtt::publish_packet& as_publish(const mqtt::packet& p) {
  return std::get<mqtt::publish_packet>(p);
}

TEST(outbound_topic_aliases, a_topic_goes_whole_with_its_alias_then_as_the_alias_alone) {  // 3.3.2.3.4
  outbound_topic_aliases aliases(4, 0);
  std::vector<out_buffer> buffers{buffer(publish_bytes("a/b", "1") + publish_bytes("a/b", "2"))};
  aliases.rewrite(buffers);
  auto packets = decoded(buffers);
  ASSERT_EQ(packets.size(), 2u);
  EXPECT_EQ(as_publish(packets[0]).topic, "a/b");
  EXPECT_EQ(as_publish(packets[0]).props.topic_alias, 1);
  EXPECT_EQ(as_publish(packets[1]).topic, "");
  EXPECT_EQ(as_publish(packets[1]).props.topic_alias, 1);
  EXPECT_EQ(as_publish(packets[1]).payload, "2");
}

TEST(outbound_topic_aliases, other_packets_pass_unchanged) {
  outbound_topic_aliases aliases(4, 0);
  std::string ack;
  mqtt::encode_ack(mqtt::packet_type::puback, 9, mqtt::reason_code::success, v5, ack);
  auto original = buffer(ack);
  std::vector<out_buffer> buffers{original};
  aliases.rewrite(buffers);
  ASSERT_EQ(buffers.size(), 1u);
  EXPECT_EQ(buffers[0], original) << "nothing rewritten: the very same buffer";
}

TEST(outbound_topic_aliases, a_payload_in_a_buffer_of_its_own_is_shared_not_copied) {
  outbound_topic_aliases aliases(4, 0);
  std::string payload(100000, 'p');
  std::string whole = publish_bytes("big/t", payload, mqtt::qos::at_least_once, 5);
  auto head = buffer(whole.substr(0, whole.size() - payload.size()));
  auto body = buffer(payload);
  std::vector<out_buffer> buffers{head, body};
  aliases.rewrite(buffers);
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[1], body);
  auto packets = decoded(buffers);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(as_publish(packets[0]).packet_id, 5);
  EXPECT_EQ(as_publish(packets[0]).payload, payload);
  EXPECT_EQ(as_publish(packets[0]).props.topic_alias, 1);
}

TEST(outbound_topic_aliases, a_packet_an_alias_would_take_over_the_clients_maximum_goes_as_it_is) {
  // MQTT-3.1.2-24: the alias property adds 3 bytes to the first PUBLISH of a topic.
  std::string exact = publish_bytes("t", "xy");
  outbound_topic_aliases aliases(4, static_cast<uint32_t>(exact.size()));
  std::vector<out_buffer> buffers{buffer(exact + exact)};
  aliases.rewrite(buffers);
  auto packets = decoded(buffers);
  ASSERT_EQ(packets.size(), 2u);
  EXPECT_FALSE(as_publish(packets[0]).props.topic_alias) << "the client was not told of an alias";
  EXPECT_FALSE(as_publish(packets[1]).props.topic_alias) << "so none can be used for it";
}

}  // namespace
}  // namespace mqhub::net
