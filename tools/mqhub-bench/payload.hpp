#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mqhub::bench {

/// What every bench payload starts with: send time (steady_clock ns, one clock since publisher and
/// subscriber share the process), per-publisher sequence, and in 4 bytes a run id and the publisher id, in
/// host byte order. The run id tells this run's messages from a previous run's that the broker still
/// delivers on the same topics.
struct payload_stamp {
  uint64_t sent_ns = 0;
  uint64_t sequence = 0;
  uint16_t run = 0;
  uint16_t publisher = 0;
};

inline constexpr size_t stamp_size = 20;

inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline void write_stamp(char* out, const payload_stamp& s) {
  std::memcpy(out, &s.sent_ns, 8);
  std::memcpy(out + 8, &s.sequence, 8);
  const uint32_t origin = (uint32_t{s.run} << 16) | s.publisher;
  std::memcpy(out + 16, &origin, 4);
}

inline std::optional<payload_stamp> read_stamp(std::string_view payload) {
  if (payload.size() < stamp_size)
    return std::nullopt;
  payload_stamp s;
  std::memcpy(&s.sent_ns, payload.data(), 8);
  std::memcpy(&s.sequence, payload.data() + 8, 8);
  uint32_t origin = 0;
  std::memcpy(&origin, payload.data() + 16, 4);
  s.run = static_cast<uint16_t>(origin >> 16);
  s.publisher = static_cast<uint16_t>(origin & 0xffff);
  return s;
}

}  // namespace mqhub::bench
