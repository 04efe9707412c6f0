#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "net/mqtt/result.hpp"

namespace mqhub::net::mqtt {

/// The largest value a variable byte integer can hold (spec 1.5.5).
inline constexpr uint32_t max_variable_byte_integer = 268'435'455;

/// Bytes a variable byte integer takes for `value` (1 to 4).
size_t variable_byte_integer_size(uint32_t value);

/// Reads the data types of spec 1.5 from a packet body. Every read checks the bytes left first, so no length
/// field can make the decoder read or allocate past the body. The first failure is kept for the caller.
class wire_reader {
 public:
  explicit wire_reader(std::span<const uint8_t> data) : data_(data) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  bool u8(uint8_t& value);
  bool u16(uint16_t& value);
  bool u32(uint32_t& value);
  /// Rejects encodings longer than needed (MQTT-1.5.5-1) so every value has exactly one wire form.
  bool variable_byte_integer(uint32_t& value);
  bool binary(std::string& value);
  /// A UTF-8 encoded string, validated per MQTT-1.5.4-1 and -2.
  bool utf8(std::string& value);
  /// Everything left in the body (a PUBLISH or will payload).
  void rest(std::string& value);

  /// Records the error (the first one wins) and returns false so that callers can `return r.fail(...)`.
  bool fail(reason_code code, std::string_view reason);
  const protocol_error& error() const { return error_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool failed_ = false;
  protocol_error error_;
};

/// Writes the data types of spec 1.5, or only counts them when there is no output, so that the encoder
/// computes lengths with the very code that writes the bytes.
class wire_writer {
 public:
  explicit wire_writer(std::string* out) : out_(out) {}

  size_t size() const { return size_; }

  // Inline: the encoder calls these per field, and a PUBLISH head is a handful of them.
  void u8(uint8_t value) {
    const char c = static_cast<char>(value);
    raw({&c, 1});
  }
  void u16(uint16_t value) {
    const char b[2] = {static_cast<char>(value >> 8), static_cast<char>(value)};
    raw({b, 2});
  }
  void u32(uint32_t value) {
    const char b[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                       static_cast<char>(value >> 8), static_cast<char>(value)};
    raw({b, 4});
  }
  void variable_byte_integer(uint32_t value);
  /// Two-byte length, then the bytes: used for both binary data and UTF-8 strings.
  void string(std::string_view value) {
    u16(static_cast<uint16_t>(value.size()));
    raw(value);
  }
  void raw(std::string_view value) {
    if (out_ != nullptr) {
      out_->append(value);
    }
    size_ += value.size();
  }

 private:
  std::string* out_;
  size_t size_ = 0;
};

}  // namespace mqhub::net::mqtt
