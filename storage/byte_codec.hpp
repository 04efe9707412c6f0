#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mqhub::storage {

/// Appends the primitives of the stored formats: fixed big-endian integers (for keys, so that byte order is
/// numeric order) and LEB128 varints and length-prefixed bytes (for compact values).
class byte_writer {
 public:
  explicit byte_writer(std::string& out) : out_(out) {}

  void u8(uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void u16_be(uint16_t value);
  void u64_be(uint64_t value);
  void varint(uint64_t value);
  /// Two's-complement zig-zag, so that small negative numbers stay short.
  void signed_varint(int64_t value);
  void bytes(std::string_view value);  // varint length, then the bytes
  void raw(std::string_view value) { out_.append(value); }

 private:
  std::string& out_;
};

/// Reads what byte_writer wrote. Every read checks the bytes left first; after the first failure every read
/// fails, so a decoder may check once at the end. Values are never trusted to size an allocation beyond the
/// input.
class byte_reader {
 public:
  explicit byte_reader(std::string_view data) : data_(data) {}

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }

  bool u8(uint8_t& value);
  bool u16_be(uint16_t& value);
  bool u64_be(uint64_t& value);
  bool varint(uint64_t& value);
  /// A varint that must fit in 32 bits.
  bool varint32(uint32_t& value);
  bool signed_varint(int64_t& value);
  bool bytes(std::string& value);
  /// The same, as a view into the input: for bytes the caller copies elsewhere anyway.
  bool bytes(std::string_view& value);
  bool raw(size_t count, std::string_view& value);
  bool fail() {
    ok_ = false;
    return false;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace mqhub::storage
