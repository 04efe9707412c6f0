#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/mqhub-bench/connection.hpp"
#include "tools/mqhub-bench/latency_histogram.hpp"
#include "tools/mqhub-bench/run_state.hpp"
#include "tools/mqhub-bench/sequence_tracker.hpp"

namespace mqhub::bench {

struct subscriber_config {
  std::string client_id;
  std::string filter;
  net::mqtt::qos qos_level = net::mqtt::qos::at_most_once;
  bool persistent = false;
  uint16_t run = 0;          // messages of other runs are ignored
  uint32_t publishers = 1;   // publisher ids above this are someone else's traffic and ignored
  size_t feedback_slot = 0;  // this subscriber's slot in each publisher's delivery_feedback
};

/// Subscribes, acknowledges what the QoS asks for, and records latency, loss, duplicates and order per
/// publisher. Its trackers and histogram are read only after the I/O threads have stopped.
class subscriber final : public connection_handler {
 public:
  subscriber(boost::asio::io_context& io, net::mqtt::protocol_version version, subscriber_config config,
             run_state& state, std::vector<delivery_feedback*> feedback);

  /// `broker` must outlive the run.
  void start(const broker_address& broker);

  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  const latency_histogram& latency() const { return latency_; }
  const std::vector<sequence_tracker>& trackers() const { return trackers_; }

  void on_connected(const net::mqtt::connack_packet& connack) override;
  void on_publish(const publish_view& p) override;
  void on_ack(const net::mqtt::ack_packet& p) override;
  void on_packet(net::mqtt::packet& p) override;
  void on_read_batch() override;
  void on_failed(std::string_view why) override;

 private:
  connection conn_;
  subscriber_config config_;
  run_state& state_;
  std::vector<delivery_feedback*> feedback_;  // by publisher id; null when not closed loop
  std::vector<sequence_tracker> trackers_;    // by publisher id
  latency_histogram latency_;
  std::atomic<uint64_t> delivered_{0};
  std::vector<uint64_t> batch_counts_;  // deliveries per publisher in the current read
  std::vector<uint32_t> batch_touched_;
  bool measuring_ = false;
  uint64_t read_at_ = 0;  // now_ns() when the current read's first message was measured; 0 before
};

}  // namespace mqhub::bench
