#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mqhub::net::mqtt {

/// Where the next packet sits in a read buffer (spec 2.1 fixed header).
struct frame {
  enum class status {
    complete,    // header and remaining_length bytes of body are in the buffer
    incomplete,  // need more bytes; the buffer holds a valid prefix
    malformed,   // remaining length is not a valid variable byte integer (over 4 bytes or not minimal)
    too_large,   // header_size + remaining_length exceeds the maximum packet size
  };
  status state = status::incomplete;
  uint8_t first_byte = 0;       // packet type (high nibble) and flags (low nibble)
  size_t header_size = 0;       // 1 + length of the remaining-length field
  size_t remaining_length = 0;  // length of the body after the fixed header

  size_t total_size() const { return header_size + remaining_length; }
};

/// Inspects the fixed header at the start of `buffer`. A too-large packet is reported as soon as its length
/// is known, before its body arrives, so nothing is ever buffered for it. A maximum of 0 means no limit.
frame peek_frame(std::span<const uint8_t> buffer, uint32_t maximum_packet_size);

}  // namespace mqhub::net::mqtt
