#include <memory>

#include "net/connection_base.hpp"

namespace mqhub::net {

namespace {

/// One per thread: shards' threads (deliveries) and connections' own (PUBACKs that free the window) encode
/// here, each under the connection's write lock.
actors::packet_writer& thread_writer() {
  thread_local actors::packet_writer writer;
  return writer;
}

}  // namespace

void connection_base::open_direct_qos1(uint16_t window) {
  std::lock_guard guard{write_mutex_};
  direct_qos1_window_ = window;
}

void connection_base::write_direct_qos1(std::vector<actors::delivery>& deliveries,
                                        mqtt::protocol_version version, uint32_t maximum_packet_size) {
  auto& writer = thread_writer();
  bool schedule = false;
  {
    std::lock_guard guard{write_mutex_};
    if (close_requested_ || writes_refused_ || direct_qos1_window_ == 0) {
      // A clean session's deliveries end with its connection.
      services_->stats->messages_dropped.fetch_add(deliveries.size(), std::memory_order_relaxed);
      return;
    }
    if (!direct_qos1_)
      direct_qos1_ = std::make_unique<direct_qos1_flow>(
          client_id_.id(), direct_qos1_window_, services_->limits.queue, version, maximum_packet_size);
    auto done = direct_qos1_->offer(deliveries, actors::clock::now(), writer);
    schedule = queue_direct_qos1_locked(writer, done);
  }
  if (schedule)
    schedule_write();
}

bool connection_base::take_direct_puback(uint16_t packet_id) {
  if (packet_id < direct_qos1_flow::first_packet_id)
    return false;
  auto& writer = thread_writer();
  bool schedule = false;
  {
    std::lock_guard guard{write_mutex_};
    if (direct_qos1_window_ == 0)
      return false;
    direct_qos1_flow::counts done;
    // A PUBACK for an id not in flight is ignored, as the session does.
    if (direct_qos1_)
      direct_qos1_->complete(packet_id, actors::clock::now(), writer, done);
    if (!close_requested_ && !writes_refused_)
      schedule = queue_direct_qos1_locked(writer, done);
    else
      writer.take_buffers();
  }
  if (schedule)
    post_start_write();
  return true;
}

bool connection_base::queue_direct_qos1_locked(actors::packet_writer& writer,
                                               const direct_qos1_flow::counts& done) {
  if (done.sent > 0)
    services_->stats->messages_sent.fetch_add(done.sent, std::memory_order_relaxed);
  if (done.dropped > 0)
    services_->stats->messages_dropped.fetch_add(done.dropped, std::memory_order_relaxed);
  auto buffers = writer.take_buffers();
  return !buffers.empty() && queue_deliveries_locked(buffers);
}

}  // namespace mqhub::net
