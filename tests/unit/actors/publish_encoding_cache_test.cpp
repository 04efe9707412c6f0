#include "actors/publish_encoding_cache.hpp"

#include <gtest/gtest.h>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;

message_ptr sample_message() {
  auto m = std::make_shared<message>();
  m->topic = "sensors/1/temperature";
  m->payload = "21.5";
  m->qos_level = mqtt::qos::exactly_once;
  auto props = std::make_unique<mqtt::properties>();
  props->content_type = "text/plain";
  m->props = std::move(props);
  return m;
}

mqtt::publish_packet decode(const std::string& bytes, mqtt::protocol_version version) {
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto f = mqtt::peek_frame(all, 0);
  EXPECT_EQ(f.state, mqtt::frame::status::complete);
  EXPECT_EQ(f.total_size(), bytes.size());
  auto p = mqtt::decode_packet(f.first_byte, all.subspan(f.header_size), version);
  EXPECT_TRUE(p) << p.error().reason;
  return std::get<mqtt::publish_packet>(*p);
}

TEST(publish_encoding_cache, encodes_each_layout_once) {
  publish_encoding_cache cache;
  auto msg = sample_message();
  cache.reset(msg);
  auto& first = cache.get(mqtt::protocol_version::v5, 0, false);
  EXPECT_EQ(first.get(), cache.get(mqtt::protocol_version::v5, 0, false).get());
  EXPECT_NE(first.get(), cache.get(mqtt::protocol_version::v311, 0, false).get());
  EXPECT_NE(first.get(), cache.get(mqtt::protocol_version::v5, 0, true).get());
}

TEST(publish_encoding_cache, v5_encoding_carries_the_message_properties) {
  publish_encoding_cache cache;
  cache.reset(sample_message());
  auto p = decode(*cache.get(mqtt::protocol_version::v5, 0, true), mqtt::protocol_version::v5);
  EXPECT_EQ(p.topic, "sensors/1/temperature");
  EXPECT_EQ(p.payload, "21.5");
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.props.content_type, "text/plain");
}

TEST(publish_encoding_cache, patched_copy_has_the_packet_id_and_dup) {
  publish_encoding_cache cache;
  cache.reset(sample_message());
  std::string out = "prefix";
  out += *cache.get(mqtt::protocol_version::v311, 1, false);
  patch_publish(out, 6, 0xBEEF, true);
  auto p = decode(out.substr(6), mqtt::protocol_version::v311);
  EXPECT_EQ(p.packet_id, 0xBEEF);
  EXPECT_TRUE(p.dup);
  EXPECT_EQ(p.qos_level, mqtt::qos::at_least_once);
}

TEST(publish_encoding_cache, reset_to_another_message_starts_over) {
  publish_encoding_cache cache;
  cache.reset(sample_message());
  auto before = cache.get(mqtt::protocol_version::v311, 0, false);
  auto other = sample_message();
  std::const_pointer_cast<message>(other)->topic = "other";
  cache.reset(other);
  EXPECT_NE(before.get(), cache.get(mqtt::protocol_version::v311, 0, false).get());
}

}  // namespace
}  // namespace mqhub::actors
