#include "tools/mqhub-bench/subscriber.hpp"

#include <boost/asio/post.hpp>
#include <utility>

#include "tools/mqhub-bench/payload.hpp"

namespace mqhub::bench {

namespace asio = boost::asio;
namespace mqtt = net::mqtt;

subscriber::subscriber(asio::io_context& io, mqtt::protocol_version version, subscriber_config config,
                       run_state& state, std::vector<delivery_feedback*> feedback)
    : conn_(io, version, *this),
      config_(std::move(config)),
      state_(state),
      feedback_(std::move(feedback)),
      trackers_(config_.publishers),
      batch_counts_(config_.publishers, 0) {}

void subscriber::start(const broker_address& broker) {
  mqtt::connect_packet connect;
  connect.version = conn_.version();
  connect.client_id = config_.client_id;
  if (config_.persistent) {
    // A fresh session that persists: run ids keep an earlier run's leftovers out of the counts.
    if (connect.version == mqtt::protocol_version::v5)
      connect.props.session_expiry_interval = 300;
    else
      connect.clean_start = false;
  }
  asio::post(conn_.context(), [this, &broker, connect] { conn_.start(broker, connect); });
}

void subscriber::on_connected(const mqtt::connack_packet&) {
  mqtt::subscribe_packet sub;
  sub.packet_id = 1;
  mqtt::subscription s;
  s.filter = config_.filter;
  s.max_qos = config_.qos_level;
  sub.subscriptions.push_back(s);
  conn_.queue(sub);
}

void subscriber::on_ack(const mqtt::ack_packet& p) {
  if (p.type == mqtt::packet_type::pubrel)
    conn_.queue_ack(mqtt::packet_type::pubcomp, p.packet_id);
}

void subscriber::on_packet(mqtt::packet& p) {
  if (auto* suback = std::get_if<mqtt::suback_packet>(&p)) {
    if (suback->codes.empty() || static_cast<uint8_t>(suback->codes[0]) >= 0x80)
      on_failed("SUBACK refused " + config_.filter);
    else
      state_.ready.fetch_add(1);
  } else if (std::holds_alternative<mqtt::disconnect_packet>(p)) {
    on_failed("DISCONNECT from the broker");
  }
}

void subscriber::on_publish(const publish_view& p) {
  if (p.qos_level == mqtt::qos::at_least_once)
    conn_.queue_ack(mqtt::packet_type::puback, p.packet_id);
  else if (p.qos_level == mqtt::qos::exactly_once)
    conn_.queue_ack(mqtt::packet_type::pubrec, p.packet_id);
  const auto stamp = read_stamp(p.payload);
  if (!stamp || stamp->run != config_.run || stamp->publisher >= config_.publishers)
    return;
  trackers_[stamp->publisher].record(stamp->sequence);
  if (measuring_) {
    // One clock read per read: every message in it had arrived by then, and a clock read per message would
    // cost the load generator CPU for nothing.
    if (read_at_ == 0)
      read_at_ = now_ns();
    latency_.record(read_at_ > stamp->sent_ns ? read_at_ - stamp->sent_ns : 0);
  }
  if (batch_counts_[stamp->publisher]++ == 0)
    batch_touched_.push_back(stamp->publisher);
}

void subscriber::on_read_batch() {
  uint64_t total = 0;
  for (const uint32_t pub : batch_touched_) {
    total += batch_counts_[pub];
    if (feedback_[pub] != nullptr)
      feedback_[pub]->add(config_.feedback_slot, batch_counts_[pub]);
    batch_counts_[pub] = 0;
  }
  batch_touched_.clear();
  read_at_ = 0;
  delivered_.store(delivered_.load(std::memory_order_relaxed) + total, std::memory_order_relaxed);
  // Read once per batch rather than per message: the phase changes twice per run.
  measuring_ = state_.now.load(std::memory_order_relaxed) == phase::measure;
}

void subscriber::on_failed(std::string_view why) {
  state_.fail(config_.client_id + ": " + std::string(why));
}

}  // namespace mqhub::bench
