#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "actors/queue_limits.hpp"

namespace mqhub::actors {

/// Messages a client's full queue dropped, counted and logged at most once per interval: a client that cannot
/// keep up costs the log a line per interval, not one per message. Sessions and connections (for the QoS 1
/// they complete themselves) log the same line, so an operator finds one client's drops under one search.
class queue_drop_report {
 public:
  static constexpr auto interval = std::chrono::seconds(10);

  void count(uint64_t dropped) {
    unreported_ += dropped;
    total_ += dropped;
  }
  /// Every message dropped so far.
  uint64_t total() const { return total_; }

  /// Logs what is unreported unless the last line is under `interval` old. Inline up to the common case
  /// (nothing dropped): it runs per flush of a session and per PUBACK of a connection's own QoS 1.
  void log_if_due(std::string_view client_id, const queue_limits& limits) {
    if (unreported_ > 0)
      log_unless_recent(client_id, limits);
  }

 private:
  void log_unless_recent(std::string_view client_id, const queue_limits& limits);

  uint64_t unreported_ = 0;
  uint64_t total_ = 0;
  std::chrono::steady_clock::time_point reported_at_{};
};

}  // namespace mqhub::actors
