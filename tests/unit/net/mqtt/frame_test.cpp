#include "codec_test_support.hpp"

namespace mqhub::net::mqtt {
namespace {

using test::bytes;

TEST(frame, empty_buffer_is_incomplete) {
  EXPECT_EQ(peek_frame({}, 0).state, frame::status::incomplete);
}

TEST(frame, first_byte_alone_is_incomplete) {
  const auto b = bytes({0x30});
  const frame f = peek_frame(b, 0);
  EXPECT_EQ(f.state, frame::status::incomplete);
  EXPECT_EQ(f.first_byte, 0x30);
}

TEST(frame, packet_with_empty_body_is_complete_after_two_bytes) {
  const auto b = bytes({0xC0, 0x00, 0xD0});
  const frame f = peek_frame(b, 0);
  EXPECT_EQ(f.state, frame::status::complete);
  EXPECT_EQ(f.header_size, 2u);
  EXPECT_EQ(f.remaining_length, 0u);
  EXPECT_EQ(f.total_size(), 2u);
}

TEST(frame, body_still_arriving_is_incomplete_with_its_length_known) {
  const auto b = bytes({0x30, 0x05, 0, 1});
  const frame f = peek_frame(b, 0);
  EXPECT_EQ(f.state, frame::status::incomplete);
  EXPECT_EQ(f.remaining_length, 5u);
}

TEST(frame, length_field_cut_after_a_continuation_byte_is_incomplete) {
  const auto b = bytes({0x30, 0x80, 0x80});
  EXPECT_EQ(peek_frame(b, 0).state, frame::status::incomplete);
}

TEST(frame, multi_byte_remaining_length_is_decoded) {
  // Spec 1.5.5 examples: 321 = 0xC1 0x02; 268,435,455 = 0xFF 0xFF 0xFF 0x7F.
  auto b = bytes({0x30, 0xC1, 0x02});
  frame f = peek_frame(b, 0);
  EXPECT_EQ(f.remaining_length, 321u);
  EXPECT_EQ(f.header_size, 3u);
  b = bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F});
  f = peek_frame(b, 0);
  EXPECT_EQ(f.remaining_length, 268'435'455u);
  EXPECT_EQ(f.header_size, 5u);
  EXPECT_EQ(f.state, frame::status::incomplete);
}

TEST(frame, remaining_length_of_five_bytes_is_malformed) {
  const auto b = bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  EXPECT_EQ(peek_frame(b, 0).state, frame::status::malformed);
}

TEST(frame, remaining_length_not_minimally_encoded_is_malformed) {
  // MQTT-1.5.5-1
  const auto b = bytes({0x30, 0x80, 0x00});
  EXPECT_EQ(peek_frame(b, 0).state, frame::status::malformed);
}

TEST(frame, too_large_is_reported_before_the_body_arrives) {
  const auto b = bytes({0x30, 0xC1, 0x02});
  EXPECT_EQ(peek_frame(b, 100).state, frame::status::too_large);
  EXPECT_EQ(peek_frame(b, 324).state, frame::status::incomplete);
  EXPECT_EQ(peek_frame(b, 323).state, frame::status::too_large);
}

TEST(frame, maximum_packet_size_counts_the_fixed_header) {
  const auto b = bytes({0xC0, 0x00});
  EXPECT_EQ(peek_frame(b, 2).state, frame::status::complete);
  EXPECT_EQ(peek_frame(b, 1).state, frame::status::too_large);
}

}  // namespace
}  // namespace mqhub::net::mqtt
