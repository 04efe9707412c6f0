// libFuzzer target for the MQTT codec: nothing may crash, and whatever decodes must encode and decode again
// to the same packet.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"
#include "net/mqtt/topic.hpp"

namespace {

using namespace mqhub::net::mqtt;

std::span<const uint8_t> as_span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "decoder_fuzz: %s\n", what);
  std::abort();
}

// Re-encodes `p` and decodes the result; any difference is a codec bug.
void check_roundtrip(const packet& p, protocol_version version) {
  std::string wire;
  encode(p, version, wire);
  if (encoded_size(p, version) != wire.size()) {
    fail("encoded_size differs from the encoded length");
  }
  const frame f = peek_frame(as_span(wire), 0);
  if (f.state != frame::status::complete || f.total_size() != wire.size()) {
    fail("re-encoded packet is not one complete frame");
  }
  const auto body = as_span(wire).subspan(f.header_size);
  if (std::holds_alternative<connect_packet>(p)) {
    auto again = decode_connect(f.first_byte, body);
    if (!again) {
      fail(("re-encoded CONNECT refused: " + again.error().reason).c_str());
    }
    if (!(packet{*again} == p)) {
      fail("CONNECT changed in the round trip");
    }
    return;
  }
  auto again = decode_packet(f.first_byte, body, version);
  if (!again) {
    fail(("re-encoded packet refused: " + again.error().reason).c_str());
  }
  if (!(*again == p)) {
    fail("packet changed in the round trip");
  }
  if (const auto* pub = std::get_if<publish_packet>(&p)) {
    std::string head;
    encode_publish_head(*pub, pub->payload.size(), version, head);
    if (head + pub->payload != wire) {
      fail("encode_publish_head + payload differs from encode");
    }
  }
}

void exercise_topics(std::string_view text) {
  const size_t split = text.find('\n');
  const std::string_view filter = text.substr(0, split);
  const std::string_view topic =
      split == std::string_view::npos ? std::string_view{} : text.substr(split + 1);
  if (is_valid_topic_filter(filter) && is_valid_topic_name(topic)) {
    std::string_view group;
    std::string_view plain;
    if (!split_shared_filter(filter, group, plain)) {
      plain = filter;
    }
    const bool matched = topic_matches(plain, topic);
    if (plain == topic && !matched) {
      fail("a topic does not match itself as a filter");
    }
  }
  (void)is_valid_utf8_string(text);
  (void)is_well_formed_utf8(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  exercise_topics({reinterpret_cast<const char*>(data), size});
  const frame f = peek_frame(input, 0);
  (void)peek_frame(input, 64);
  if (f.state != frame::status::complete) {
    return 0;
  }
  const auto body = input.subspan(f.header_size, f.remaining_length);
  (void)peek_connect_version(body);
  if (auto connect = decode_connect(f.first_byte, body)) {
    check_roundtrip(packet{*connect}, connect->version);
  }
  for (auto version : {protocol_version::v311, protocol_version::v5}) {
    if (auto p = decode_packet(f.first_byte, body, version)) {
      check_roundtrip(*p, version);
    }
  }
  return 0;
}
