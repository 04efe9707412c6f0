#include "storage/key_encoding.hpp"

#include <stdexcept>

#include "storage/byte_codec.hpp"

namespace mqhub::storage {

namespace {

// Splits a length-prefixed client id off the front of `key`; `rest` gets what follows it.
bool split_client(std::string_view key, std::string& client_id, std::string_view& rest) {
  byte_reader reader(key);
  uint16_t size = 0;
  std::string_view id;
  if (!reader.u16_be(size) || !reader.raw(size, id)) {
    return false;
  }
  client_id.assign(id);
  rest = key.substr(2 + id.size());
  return true;
}

uint64_t big_endian_u64(std::string_view bytes) {
  uint64_t value = 0;
  byte_reader(bytes).u64_be(value);
  return value;
}

}  // namespace

std::string client_prefix(std::string_view client_id) {
  if (client_id.size() > max_client_id_size) {
    throw std::length_error("client id longer than 65535 bytes");
  }
  std::string out;
  out.reserve(2 + client_id.size() + 8);
  byte_writer writer(out);
  writer.u16_be(static_cast<uint16_t>(client_id.size()));
  writer.raw(client_id);
  return out;
}

std::string prefix_successor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty() && static_cast<uint8_t>(out.back()) == 0xff) {
    out.pop_back();
  }
  if (!out.empty()) {
    out.back() = static_cast<char>(static_cast<uint8_t>(out.back()) + 1);
  }
  return out;
}

std::string queue_key(std::string_view client_id, uint64_t sequence) {
  std::string out = client_prefix(client_id);
  byte_writer(out).u64_be(sequence);
  return out;
}

std::optional<decoded_queue_key> decode_queue_key(std::string_view key) {
  decoded_queue_key out;
  std::string_view rest;
  if (!split_client(key, out.client_id, rest) || rest.size() != 8) {
    return std::nullopt;
  }
  out.sequence = big_endian_u64(rest);
  return out;
}

key_range queue_range(std::string_view client_id) {
  std::string prefix = client_prefix(client_id);
  return {prefix, prefix_successor(prefix)};
}

std::string message_key(uint64_t message_id) {
  std::string out;
  byte_writer(out).u64_be(message_id);
  return out;
}

std::optional<uint64_t> decode_message_key(std::string_view key) {
  if (key.size() != 8) {
    return std::nullopt;
  }
  return big_endian_u64(key);
}

std::string session_key(std::string_view client_id) {
  std::string out = client_prefix(client_id);
  byte_writer(out).u8(static_cast<uint8_t>(session_row::record));
  return out;
}

std::string inbound_qos2_key(std::string_view client_id, uint16_t packet_id) {
  std::string out = client_prefix(client_id);
  byte_writer writer(out);
  writer.u8(static_cast<uint8_t>(session_row::inbound_qos2));
  writer.u16_be(packet_id);
  return out;
}

std::optional<decoded_session_key> decode_session_key(std::string_view key) {
  decoded_session_key out;
  std::string_view rest;
  if (!split_client(key, out.client_id, rest) || rest.empty()) {
    return std::nullopt;
  }
  byte_reader reader(rest);
  uint8_t row = 0;
  reader.u8(row);
  if (row == static_cast<uint8_t>(session_row::record) && reader.at_end()) {
    out.row = session_row::record;
    return out;
  }
  if (row == static_cast<uint8_t>(session_row::inbound_qos2) && reader.u16_be(out.packet_id) &&
      reader.at_end()) {
    out.row = session_row::inbound_qos2;
    return out;
  }
  return std::nullopt;
}

key_range session_range(std::string_view client_id) {
  std::string prefix = client_prefix(client_id);
  return {prefix, prefix_successor(prefix)};
}

std::string retained_key(std::string_view topic) {
  return std::string(topic);
}

}  // namespace mqhub::storage
