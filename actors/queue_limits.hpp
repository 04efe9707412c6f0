#pragma once

#include <cstddef>
#include <cstdint>

#include "actors/message.hpp"

namespace mqhub::actors {

/// How much one client's queue of messages waiting to be sent may hold: bytes by default, and a number of
/// messages for those who want one. Sessions, and the connections that send QoS 1 themselves, apply it.
struct queue_limits {
  size_t max_messages = 0;                          // 0: no limit on the number
  uint64_t max_bytes = uint64_t{64} * 1024 * 1024;  // 0: no limit on the bytes

  /// Whether a queue of `messages` holding `bytes` takes one more of `more` bytes. An empty queue takes any
  /// one message, however large, so that a limit smaller than a message does not refuse every message.
  bool has_room(uint64_t messages, uint64_t bytes, uint64_t more) const {
    if (max_messages != 0 && messages >= max_messages)
      return false;
    return max_bytes == 0 || messages == 0 || bytes + more <= max_bytes;
  }
};

/// What a queued message counts against the limit in bytes: what storing it takes, near enough (its topic,
/// payload and publisher, and a little for the rest).
inline uint64_t queued_bytes(const message& msg) {
  return msg.topic.size() + msg.payload.size() + msg.publisher.view().size() + 16;
}

}  // namespace mqhub::actors
