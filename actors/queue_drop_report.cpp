#include "actors/queue_drop_report.hpp"

#include <string>

#include <spdlog/spdlog.h>

namespace mqhub::actors {

namespace {

std::string describe(const queue_limits& limits) {
  std::string out;
  if (limits.max_messages != 0)
    out = std::to_string(limits.max_messages) + " messages";
  if (limits.max_bytes != 0)
    out += (out.empty() ? "" : " or ") + std::to_string(limits.max_bytes) + " bytes";
  return out;
}

}  // namespace

void queue_drop_report::log_unless_recent(std::string_view client_id, const queue_limits& limits) {
  auto now = std::chrono::steady_clock::now();
  if (now - reported_at_ < interval)
    return;
  spdlog::warn("session {}: queue full ({}), {} messages dropped ({} since the session began)", client_id,
               describe(limits), unreported_, total_);
  unreported_ = 0;
  reported_at_ = now;
}

}  // namespace mqhub::actors
