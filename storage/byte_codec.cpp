#include "storage/byte_codec.hpp"

namespace mqhub::storage {

void byte_writer::u16_be(uint16_t value) {
  u8(static_cast<uint8_t>(value >> 8));
  u8(static_cast<uint8_t>(value));
}

void byte_writer::u64_be(uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    u8(static_cast<uint8_t>(value >> shift));
  }
}

void byte_writer::varint(uint64_t value) {
  while (value >= 0x80) {
    u8(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  u8(static_cast<uint8_t>(value));
}

void byte_writer::signed_varint(int64_t value) {
  const auto bits = static_cast<uint64_t>(value);
  varint((bits << 1) ^ (value < 0 ? ~uint64_t{0} : uint64_t{0}));
}

void byte_writer::bytes(std::string_view value) {
  varint(value.size());
  raw(value);
}

bool byte_reader::u8(uint8_t& value) {
  if (!ok_ || remaining() < 1) {
    return fail();
  }
  value = static_cast<uint8_t>(data_[pos_++]);
  return true;
}

bool byte_reader::u16_be(uint16_t& value) {
  uint8_t hi = 0;
  uint8_t lo = 0;
  if (!u8(hi) || !u8(lo)) {
    return false;
  }
  value = static_cast<uint16_t>((hi << 8) | lo);
  return true;
}

bool byte_reader::u64_be(uint64_t& value) {
  if (!ok_ || remaining() < 8) {
    return fail();
  }
  value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<uint8_t>(data_[pos_++]);
  }
  return true;
}

bool byte_reader::varint(uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t byte = 0;
    if (!u8(byte)) {
      return false;
    }
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) {
      return fail();
    }
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return fail();
}

bool byte_reader::varint32(uint32_t& value) {
  uint64_t wide = 0;
  if (!varint(wide)) {
    return false;
  }
  if (wide > UINT32_MAX) {
    return fail();
  }
  value = static_cast<uint32_t>(wide);
  return true;
}

bool byte_reader::signed_varint(int64_t& value) {
  uint64_t bits = 0;
  if (!varint(bits)) {
    return false;
  }
  value = static_cast<int64_t>((bits >> 1) ^ (~(bits & 1) + 1));
  return true;
}

bool byte_reader::bytes(std::string& value) {
  std::string_view view;
  if (!bytes(view)) {
    return false;
  }
  value.assign(view);
  return true;
}

bool byte_reader::bytes(std::string_view& value) {
  uint64_t size = 0;
  if (!varint(size) || size > remaining() || !raw(static_cast<size_t>(size), value)) {
    return fail();
  }
  return true;
}

bool byte_reader::raw(size_t count, std::string_view& value) {
  if (!ok_ || remaining() < count) {
    return fail();
  }
  value = data_.substr(pos_, count);
  pos_ += count;
  return true;
}

}  // namespace mqhub::storage
