#include "actors/queue_drop_report.hpp"

#include <spdlog/spdlog.h>

namespace mqhub::actors {

void queue_drop_report::log_unless_recent(std::string_view client_id, size_t queue_limit) {
  auto now = std::chrono::steady_clock::now();
  if (now - reported_at_ < interval)
    return;
  spdlog::warn("session {}: queue full ({} messages), {} messages dropped", client_id, queue_limit,
               unreported_);
  unreported_ = 0;
  reported_at_ = now;
}

}  // namespace mqhub::actors
