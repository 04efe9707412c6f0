#include "net/outbound_topic_aliases.hpp"

#include <algorithm>
#include <memory>
#include <span>
#include <utility>

#include "net/mqtt/frame.hpp"
#include "net/mqtt/wire.hpp"

namespace mqhub::net {

namespace {

constexpr uint8_t publish_type = 3;
constexpr uint8_t topic_alias_property = 0x23;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

outbound_topic_aliases::outbound_topic_aliases(uint16_t maximum, uint32_t maximum_packet_size)
    : maximum_packet_size_(maximum_packet_size), maximum_(std::max<uint16_t>(maximum, 1)) {}

std::pair<uint16_t, bool> outbound_topic_aliases::alias_of(std::string_view topic) {
  ++uses_;
  if (auto it = aliases_.find(std::string(topic)); it != aliases_.end()) {
    slots_[it->second - 1].last_use = uses_;
    return {it->second, true};
  }
  uint16_t alias = 0;
  if (slots_.size() < maximum_) {
    slots_.push_back({std::string(topic), uses_});
    alias = static_cast<uint16_t>(slots_.size());
  } else {
    auto oldest = std::min_element(slots_.begin(), slots_.end(),
                                   [](const slot& a, const slot& b) { return a.last_use < b.last_use; });
    aliases_.erase(oldest->topic);
    oldest->topic = topic;
    oldest->last_use = uses_;
    alias = static_cast<uint16_t>(oldest - slots_.begin() + 1);
  }
  aliases_.emplace(std::string(topic), alias);
  return {alias, false};
}

bool outbound_topic_aliases::rewrite_head(std::string_view head, size_t payload_size, std::string& out) {
  auto f = mqtt::peek_frame(bytes_of(head), 0);
  mqtt::wire_reader r(bytes_of(head).subspan(f.header_size));
  uint16_t topic_size = 0;
  if (!r.u16(topic_size) || r.remaining() < topic_size)
    return false;
  std::string_view topic = head.substr(f.header_size + 2, topic_size);
  std::string_view after_topic = head.substr(f.header_size + 2 + topic_size);
  const size_t id_size = ((f.first_byte >> 1) & 0x03) != 0 ? 2 : 0;
  if (topic.empty() || after_topic.size() < id_size)
    return false;  // already aliased, or not a head we understand
  mqtt::wire_reader props(bytes_of(after_topic.substr(id_size)));
  uint32_t props_size = 0;
  if (!props.variable_byte_integer(props_size) || props.remaining() != props_size)
    return false;
  std::string_view properties = after_topic.substr(id_size + props.position());

  auto [alias, known] = alias_of(topic);
  std::string_view new_topic = known ? std::string_view() : topic;
  const uint32_t new_props_size = props_size + 3;
  const size_t body = 2 + new_topic.size() + id_size + mqtt::variable_byte_integer_size(new_props_size) +
                      new_props_size + payload_size;
  if (body > mqtt::max_variable_byte_integer ||
      (maximum_packet_size_ != 0 &&
       1 + mqtt::variable_byte_integer_size(static_cast<uint32_t>(body)) + body > maximum_packet_size_)) {
    if (!known) {  // the client was not told of this alias: it must not stay assigned
      aliases_.erase(std::string(topic));
      slots_[alias - 1].topic.clear();
      slots_[alias - 1].last_use = 0;
    }
    return false;
  }
  mqtt::wire_writer w(&out);
  w.u8(f.first_byte);
  w.variable_byte_integer(static_cast<uint32_t>(body));
  w.string(new_topic);
  w.raw(after_topic.substr(0, id_size));
  w.variable_byte_integer(new_props_size);
  w.raw(properties);
  w.u8(topic_alias_property);
  w.u16(alias);
  return true;
}

void outbound_topic_aliases::rewrite(std::vector<actors::out_buffer>& buffers) {
  std::vector<actors::out_buffer> result;
  std::string current;
  auto seal = [&] {
    if (!current.empty())
      result.push_back(std::make_shared<const std::string>(std::exchange(current, std::string())));
  };
  size_t left_in_packet = 0;  // bytes of the packet being copied that are still to come
  bool changed = false;
  bool lost_track = false;  // a packet boundary that does not parse: the rest passes as it is
  for (auto& buffer : buffers) {
    std::string_view data = *buffer;
    size_t pos = 0;
    if (lost_track) {
      current.append(data);
      continue;
    }
    while (pos < data.size()) {
      if (left_in_packet > 0) {
        size_t n = std::min(left_in_packet, data.size() - pos);
        if (pos == 0 && n == data.size()) {
          seal();
          result.push_back(buffer);  // a payload queued on its own: shared, not copied
        } else {
          current.append(data.substr(pos, n));
        }
        left_in_packet -= n;
        pos += n;
        continue;
      }
      auto rest = data.substr(pos);
      auto f = mqtt::peek_frame(bytes_of(rest), 0);
      if (f.state == mqtt::frame::status::malformed || f.header_size == 0) {
        current.append(rest);  // writers queue whole packet heads, so this is not expected
        lost_track = true;
        break;
      }
      if ((f.first_byte >> 4) == publish_type) {
        // The head (fixed header to properties) is in this buffer; the payload may follow in the next.
        size_t head_end = rest.size();
        mqtt::wire_reader r(bytes_of(rest).subspan(f.header_size));
        uint16_t topic_size = 0;
        uint32_t props_size = 0;
        const size_t id_size = ((f.first_byte >> 1) & 0x03) != 0 ? 2 : 0;
        if (r.u16(topic_size) && r.remaining() >= size_t{topic_size} + id_size) {
          mqtt::wire_reader p(bytes_of(rest).subspan(f.header_size + 2 + topic_size + id_size));
          if (p.variable_byte_integer(props_size))
            head_end = f.header_size + 2 + topic_size + id_size + p.position() + props_size;
        }
        if (head_end <= rest.size() && head_end <= f.total_size()) {
          const size_t payload_size = f.total_size() - head_end;
          if (rewrite_head(rest.substr(0, head_end), payload_size, current)) {
            changed = true;
            pos += head_end;
            left_in_packet = payload_size;
            continue;
          }
        }
      }
      left_in_packet = f.total_size();  // passed through as it is, across buffers if need be
    }
  }
  if (!changed)
    return;
  seal();
  buffers = std::move(result);
}

}  // namespace mqhub::net
