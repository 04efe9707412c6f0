#include "net/mqtt/wire.hpp"

#include "net/mqtt/topic.hpp"

namespace mqhub::net::mqtt {

size_t variable_byte_integer_size(uint32_t value) {
  if (value < 128) {
    return 1;
  }
  if (value < 16'384) {
    return 2;
  }
  if (value < 2'097'152) {
    return 3;
  }
  return 4;
}

bool wire_reader::u8(uint8_t& value) {
  if (remaining() < 1) {
    return fail(reason_code::malformed_packet, "packet ends inside a byte field");
  }
  value = data_[pos_++];
  return true;
}

bool wire_reader::u16(uint16_t& value) {
  if (remaining() < 2) {
    return fail(reason_code::malformed_packet, "packet ends inside a two byte integer");
  }
  value = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
  pos_ += 2;
  return true;
}

bool wire_reader::u32(uint32_t& value) {
  if (remaining() < 4) {
    return fail(reason_code::malformed_packet, "packet ends inside a four byte integer");
  }
  value = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
          (uint32_t{data_[pos_ + 2]} << 8) | uint32_t{data_[pos_ + 3]};
  pos_ += 4;
  return true;
}

bool wire_reader::variable_byte_integer(uint32_t& value) {
  uint32_t result = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint8_t byte = 0;
    if (!u8(byte)) {
      return false;
    }
    result |= uint32_t{static_cast<uint8_t>(byte & 0x7F)} << (7 * i);
    if ((byte & 0x80) == 0) {
      if (i > 0 && byte == 0) {
        return fail(reason_code::malformed_packet, "variable byte integer is not minimally encoded");
      }
      value = result;
      return true;
    }
  }
  return fail(reason_code::malformed_packet, "variable byte integer longer than four bytes");
}

bool wire_reader::binary(std::string& value) {
  uint16_t length = 0;
  if (!u16(length)) {
    return false;
  }
  if (remaining() < length) {
    return fail(reason_code::malformed_packet, "length field overruns the packet");
  }
  value.assign(reinterpret_cast<const char*>(data_.data() + pos_), length);
  pos_ += length;
  return true;
}

bool wire_reader::utf8(std::string& value) {
  if (!binary(value)) {
    return false;
  }
  if (!is_valid_utf8_string(value)) {
    return fail(reason_code::malformed_packet, "invalid UTF-8 string");
  }
  return true;
}

void wire_reader::rest(std::string& value) {
  value.assign(reinterpret_cast<const char*>(data_.data() + pos_), remaining());
  pos_ = data_.size();
}

bool wire_reader::fail(reason_code code, std::string_view reason) {
  if (!failed_) {
    failed_ = true;
    error_.code = code;
    error_.reason.assign(reason);
  }
  return false;
}

void wire_writer::variable_byte_integer(uint32_t value) {
  do {
    uint8_t byte = value & 0x7F;
    value >>= 7;
    if (value != 0) {
      byte |= 0x80;
    }
    u8(byte);
  } while (value != 0);
}

}  // namespace mqhub::net::mqtt
