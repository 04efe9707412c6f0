#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/connection_sink.hpp"

namespace mqhub::net {

/// The topic aliases the node uses towards a client that announced a Topic Alias Maximum (MQTT 5,
/// 3.3.2.3.4): the first PUBLISH of a topic carries the topic and an alias, later ones the alias and an empty
/// topic. When every alias is taken, the least recently used one goes to the new topic. It saves the bytes
/// that devices on metered links pay for.
///
/// A connection applies it to its write queue, so aliases are assigned in the order packets reach the
/// socket. PUBLISHes are encoded once for many subscribers, so a rewrite copies the head (and a payload that
/// shares a buffer with other packets); a payload queued as a buffer of its own passes as it is. Not
/// thread-safe: the connection holds its write lock.
class outbound_topic_aliases {
 public:
  /// `maximum`: aliases to use, 1 to 65535. `maximum_packet_size`: the client's limit (0: none); a PUBLISH
  /// that an alias would take over it is sent as it is.
  outbound_topic_aliases(uint16_t maximum, uint32_t maximum_packet_size);

  /// Rewrites the PUBLISHes in `buffers` (whole packets in order, a payload possibly in a buffer of its own)
  /// to use aliases; every other packet passes unchanged.
  void rewrite(std::vector<actors::out_buffer>& buffers);

 private:
  struct slot {
    std::string topic;
    uint64_t last_use = 0;
  };
  /// The alias of `topic`, and whether the client knows it already; assigns one (maybe the least recently
  /// used) otherwise.
  std::pair<uint16_t, bool> alias_of(std::string_view topic);
  /// Appends the rewritten head of the PUBLISH whose head is `head` (fixed header to properties, in one
  /// piece) and whose payload is `payload_size` bytes; false when it must go unchanged.
  bool rewrite_head(std::string_view head, size_t payload_size, std::string& out);

  std::unordered_map<std::string, uint16_t> aliases_;  // topic → alias
  std::vector<slot> slots_;                            // alias - 1 → its topic
  uint64_t uses_ = 0;
  uint32_t maximum_packet_size_;
  uint16_t maximum_;
};

}  // namespace mqhub::net
