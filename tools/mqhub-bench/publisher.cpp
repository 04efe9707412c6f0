#include "tools/mqhub-bench/publisher.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <stdexcept>
#include <utility>

#include "net/mqtt/encoder.hpp"
#include "tools/mqhub-bench/payload.hpp"

namespace mqhub::bench {

namespace asio = boost::asio;
namespace mqtt = net::mqtt;

namespace {
// Bounds what one publisher queues ahead of the socket, so an unbounded publisher is paced by TCP.
constexpr size_t max_queued_bytes = size_t{64} * 1024;
constexpr uint64_t batch = 64;
// A closed-loop QoS 0 publisher whose receivers got nothing for this long counts the rest as lost (the
// broker may drop QoS 0) rather than waiting forever.
constexpr auto stall_limit = std::chrono::milliseconds(500);
}  // namespace

publisher::publisher(asio::io_context& io, mqtt::protocol_version version, publisher_config config,
                     run_state& state, delivery_feedback* feedback)
    : conn_(io, version, *this),
      config_(std::move(config)),
      state_(state),
      feedback_(feedback),
      timer_(io),
      stall_timer_(io),
      in_use_(65536, false) {
  mqtt::publish_packet head;
  head.topic = config_.topic;
  head.qos_level = config_.qos_level;
  if (config_.qos_level != mqtt::qos::at_most_once) {
    head.packet_id = 0x0102;
    mqtt::encode_publish_head(head, config_.payload, version, head_);
    // The packet id is the last field before the (empty) v5 property block; patch it there per message.
    packet_id_at_ = head_.size() - (version == mqtt::protocol_version::v5 ? 3 : 2);
    if (head_[packet_id_at_] != 0x01 || head_[packet_id_at_ + 1] != 0x02)
      throw std::logic_error("unexpected PUBLISH head layout");
  } else {
    mqtt::encode_publish_head(head, config_.payload, version, head_);
  }
  body_.assign(config_.payload, 'x');
  if (feedback_ != nullptr)
    feedback_->wake = [this] { asio::post(conn_.context(), [this] { pump(); }); };
}

void publisher::start(const broker_address& broker) {
  mqtt::connect_packet connect;
  connect.version = conn_.version();
  connect.client_id = config_.client_id;
  asio::post(conn_.context(), [this, &broker, connect] { conn_.start(broker, connect); });
}

void publisher::go() {
  asio::post(conn_.context(), [this] {
    started_ = true;
    start_time_ = std::chrono::steady_clock::now();
    pump();
  });
}

void publisher::on_connected(const mqtt::connack_packet&) {
  state_.ready.fetch_add(1);
}

uint64_t publisher::credit() {
  const uint64_t sent = sent_.load(std::memory_order_relaxed);
  uint64_t credit = UINT64_MAX;
  if (config_.qos_level != mqtt::qos::at_most_once) {
    credit = config_.window - inflight_.load(std::memory_order_relaxed);
  } else if (config_.window > 0 && feedback_ != nullptr) {
    const uint64_t accounted = feedback_->min_delivered() + written_off_;
    const uint64_t undelivered = sent - std::min(sent, accounted);
    credit = undelivered >= config_.window ? 0 : config_.window - undelivered;
  }
  if (config_.rate > 0) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
    const auto due = static_cast<uint64_t>(config_.rate * elapsed) + 1;
    credit = std::min(credit, due > sent ? due - sent : 0);
  }
  return credit;
}

void publisher::pump() {
  if (!started_ || state_.now.load(std::memory_order_relaxed) == phase::drain)
    return;
  auto& out = conn_.queued();
  bool blocked = false;
  while (out.size() < max_queued_bytes) {
    uint64_t n = credit();
    if (n == 0) {
      blocked = true;
      break;
    }
    n = std::min(n, batch);
    uint64_t sequence = sent_.load(std::memory_order_relaxed);
    const uint64_t stamp_time = now_ns();
    for (; n > 0; --n, ++sequence) {
      const size_t head_at = out.size();
      out.append(head_);
      if (config_.qos_level != mqtt::qos::at_most_once) {
        const uint16_t id = take_packet_id();
        out[head_at + packet_id_at_] = static_cast<char>(id >> 8);
        out[head_at + packet_id_at_ + 1] = static_cast<char>(id & 0xff);
      }
      const size_t body_at = out.size();
      out.append(body_);
      write_stamp(out.data() + body_at, {stamp_time, sequence, config_.run, config_.id});
    }
    sent_.store(sequence, std::memory_order_relaxed);
  }
  conn_.flush();
  if (!blocked)
    return;  // the write completion pumps again
  if (config_.rate > 0)
    arm_rate_timer();
  if (feedback_ != nullptr && config_.qos_level == mqtt::qos::at_most_once && config_.window > 0) {
    feedback_->waiting.store(true);
    if (credit() > 0 && feedback_->waiting.exchange(false))
      asio::post(conn_.context(), [this] { pump(); });
    arm_stall_timer();
  }
}

void publisher::arm_stall_timer() {
  if (stall_armed_)
    return;
  stall_armed_ = true;
  stall_mark_ = feedback_->min_delivered();
  stall_timer_.expires_after(stall_limit);
  stall_timer_.async_wait([this](const boost::system::error_code& ec) {
    stall_armed_ = false;
    if (ec || state_.now.load(std::memory_order_relaxed) == phase::drain)
      return;
    const uint64_t delivered = feedback_->min_delivered();
    const uint64_t sent = sent_.load(std::memory_order_relaxed);
    if (delivered == stall_mark_ && sent > delivered + written_off_)
      written_off_ = sent - delivered;
    pump();
  });
}

void publisher::arm_rate_timer() {
  if (timer_armed_)
    return;
  timer_armed_ = true;
  const double next = static_cast<double>(sent_.load(std::memory_order_relaxed)) / config_.rate;
  timer_.expires_at(start_time_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(next)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    timer_armed_ = false;
    if (!ec)
      pump();
  });
}

uint16_t publisher::take_packet_id() {
  while (next_id_ == 0 || in_use_[next_id_])
    ++next_id_;
  const uint16_t id = next_id_++;
  in_use_[id] = true;
  inflight_.store(inflight_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return id;
}

void publisher::release(uint16_t packet_id) {
  if (!in_use_[packet_id])
    return;
  in_use_[packet_id] = false;
  inflight_.store(inflight_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void publisher::on_packet(mqtt::packet& p) {
  if (std::holds_alternative<mqtt::disconnect_packet>(p))
    on_failed("DISCONNECT from the broker");
}

void publisher::on_ack(const mqtt::ack_packet& ack) {
  switch (ack.type) {
    case mqtt::packet_type::puback:
    case mqtt::packet_type::pubcomp:
      release(ack.packet_id);
      break;
    case mqtt::packet_type::pubrec:
      if (static_cast<uint8_t>(ack.code) >= 0x80)
        release(ack.packet_id);
      else
        conn_.queue_ack(mqtt::packet_type::pubrel, ack.packet_id);
      break;
    default:
      break;
  }
}

void publisher::on_read_batch() {
  pump();
}

void publisher::on_write_done() {
  pump();
}

void publisher::on_failed(std::string_view why) {
  state_.fail(config_.client_id + ": " + std::string(why));
}

}  // namespace mqhub::bench
