#include "net/mqtt/frame.hpp"

namespace mqhub::net::mqtt {

frame peek_frame(std::span<const uint8_t> buffer, uint32_t maximum_packet_size) {
  frame f;
  if (buffer.empty()) {
    return f;
  }
  f.first_byte = buffer[0];
  size_t length = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (1 + i >= buffer.size()) {
      return f;  // incomplete: the length field is still arriving
    }
    const uint8_t byte = buffer[1 + i];
    length |= size_t{static_cast<uint8_t>(byte & 0x7F)} << (7 * i);
    if ((byte & 0x80) != 0) {
      continue;
    }
    if (i > 0 && byte == 0) {
      f.state = frame::status::malformed;  // not the minimal encoding, MQTT-1.5.5-1
      return f;
    }
    f.header_size = 2 + i;
    f.remaining_length = length;
    if (maximum_packet_size != 0 && f.total_size() > maximum_packet_size) {
      f.state = frame::status::too_large;
    } else if (buffer.size() >= f.total_size()) {
      f.state = frame::status::complete;
    }
    return f;
  }
  f.state = frame::status::malformed;
  return f;
}

}  // namespace mqhub::net::mqtt
