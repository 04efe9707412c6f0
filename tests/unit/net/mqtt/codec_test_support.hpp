#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::net::mqtt::test {

inline std::vector<uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) {
    out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

inline std::span<const uint8_t> as_span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string encoded(const packet& p, protocol_version version) {
  std::string out;
  encode(p, version, out);
  return out;
}

/// Splits a whole packet into fixed header and body, as the connection does, and decodes it.
inline result<packet> decode_wire(const std::string& wire, protocol_version version) {
  const frame f = peek_frame(as_span(wire), 0);
  if (f.state != frame::status::complete || f.total_size() != wire.size()) {
    ADD_FAILURE() << "not exactly one complete frame";
    return protocol_error{reason_code::unspecified_error, "bad frame"};
  }
  const auto body = as_span(wire).subspan(f.header_size);
  if ((f.first_byte >> 4) == 1) {
    auto connect = decode_connect(f.first_byte, body);
    if (!connect) {
      return connect.error();
    }
    return packet{*connect};
  }
  return decode_packet(f.first_byte, body, version);
}

/// Decodes a body given as bytes after an explicit first byte.
inline result<packet> decode_body(uint8_t first_byte, const std::vector<uint8_t>& body,
                                  protocol_version version) {
  return decode_packet(first_byte, body, version);
}

}  // namespace mqhub::net::mqtt::test
