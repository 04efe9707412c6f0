#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/mqhub-bench/connection.hpp"
#include "tools/mqhub-bench/run_state.hpp"

namespace mqhub::bench {

struct publisher_config {
  uint16_t id = 0;
  uint16_t run = 0;
  std::string client_id;
  std::string topic;
  net::mqtt::qos qos_level = net::mqtt::qos::at_most_once;
  uint32_t payload = 64;
  uint32_t window = 0;  // see options::window
  double rate = 0;      // this publisher's messages/s, 0 = unbounded
};

/// Publishes stamped messages as fast as its window, its rate and TCP allow, from its own io_context.
class publisher final : public connection_handler {
 public:
  publisher(boost::asio::io_context& io, net::mqtt::protocol_version version, publisher_config config,
            run_state& state, delivery_feedback* feedback);

  /// `broker` must outlive the run.
  void start(const broker_address& broker);
  /// Starts sending; call from any thread once everybody is connected.
  void go();

  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint32_t inflight() const { return inflight_.load(std::memory_order_relaxed); }
  const publisher_config& config() const { return config_; }

  void on_connected(const net::mqtt::connack_packet& connack) override;
  void on_ack(const net::mqtt::ack_packet& ack) override;
  void on_packet(net::mqtt::packet& p) override;
  void on_read_batch() override;
  void on_write_done() override;
  void on_failed(std::string_view why) override;

 private:
  void pump();
  uint64_t credit();
  uint16_t take_packet_id();
  void release(uint16_t packet_id);
  void arm_rate_timer();
  void arm_stall_timer();

  connection conn_;
  publisher_config config_;
  run_state& state_;
  delivery_feedback* feedback_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  boost::asio::steady_timer stall_timer_;
  bool stall_armed_ = false;
  uint64_t stall_mark_ = 0;   // min_delivered when the stall timer was armed
  uint64_t written_off_ = 0;  // closed-loop QoS 0 messages given up as lost, so the window reopens
  bool started_ = false;
  std::chrono::steady_clock::time_point start_time_;
  std::string head_;         // fixed header, topic, packet id and properties of every PUBLISH
  size_t packet_id_at_ = 0;  // where the packet id sits in head_
  std::string body_;         // payload template; the stamp is written over its first bytes
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint32_t> inflight_{0};
  std::vector<bool> in_use_;  // packet ids awaiting PUBACK / PUBCOMP
  uint16_t next_id_ = 1;
};

}  // namespace mqhub::bench
