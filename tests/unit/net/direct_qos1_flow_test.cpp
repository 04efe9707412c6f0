#include "net/direct_qos1_flow.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/mqtt/frame.hpp"

namespace mqhub::net {
namespace {

using actors::clock;
using actors::delivery;

constexpr auto v311 = mqtt::protocol_version::v311;

delivery make_delivery(std::string payload) {
  auto m = std::make_shared<actors::message>();
  m->topic = "t";
  m->payload = std::move(payload);
  m->qos_level = mqtt::qos::at_least_once;
  delivery d;
  d.msg = m;
  d.qos = 1;
  return d;
}

std::vector<delivery> deliveries(std::initializer_list<const char*> payloads) {
  std::vector<delivery> out;
  for (const auto* p : payloads)
    out.push_back(make_delivery(p));
  return out;
}

/// The payloads of the PUBLISHes `writer` holds, in order.
std::vector<std::string> sent_payloads(actors::packet_writer& writer) {
  std::vector<std::string> payloads;
  for (const auto& buffer : writer.take_buffers()) {
    std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(buffer->data()), buffer->size());
    while (!rest.empty()) {
      auto f = mqtt::peek_frame(rest, 1 << 20);
      auto body = rest.subspan(f.header_size, f.remaining_length);
      // Topic length (2), topic "t" (1), packet id (2), then the payload.
      payloads.emplace_back(reinterpret_cast<const char*>(body.data()) + 5, body.size() - 5);
      rest = rest.subspan(f.total_size());
    }
  }
  return payloads;
}

const actors::queue_limits limit_100{100, 0};
const actors::queue_limits limit_1{1, 0};

TEST(direct_qos1_flow, sends_what_the_window_takes_and_queues_the_rest_in_order) {  // MQTT-3.3.4-9
  direct_qos1_flow flow(actors::shared_client_id("c"), 2, limit_100, v311, 0);
  actors::packet_writer out;
  auto batch = deliveries({"a", "b", "c", "d"});
  auto done = flow.offer(batch, clock::now(), out);
  EXPECT_EQ(done.sent, 2U);
  EXPECT_EQ(sent_payloads(out), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(flow.inflight(), 2U);
  EXPECT_EQ(flow.queued(), 2U);

  direct_qos1_flow::counts more;
  EXPECT_TRUE(flow.complete(direct_qos1_flow::first_packet_id, clock::now(), out, more));
  EXPECT_EQ(more.sent, 1U);
  EXPECT_EQ(sent_payloads(out), (std::vector<std::string>{"c"}));
  auto late = deliveries({"e"});
  flow.offer(late, clock::now(), out);
  EXPECT_TRUE(sent_payloads(out).empty());  // behind "d" in the queue (MQTT-4.6.0-6)
  EXPECT_TRUE(flow.complete(direct_qos1_flow::first_packet_id + 1, clock::now(), out, more));
  EXPECT_TRUE(flow.complete(direct_qos1_flow::first_packet_id + 2, clock::now(), out, more));
  EXPECT_EQ(sent_payloads(out), (std::vector<std::string>{"d", "e"}));
}

TEST(direct_qos1_flow, packet_ids_start_at_32768_and_wrap_within_the_upper_half) {
  direct_qos1_flow flow(actors::shared_client_id("c"), 1, limit_100, v311, 0);
  actors::packet_writer out;
  direct_qos1_flow::counts done;
  for (int i = 0; i < direct_qos1_flow::max_window; ++i) {
    auto one = deliveries({"x"});
    flow.offer(one, clock::now(), out);
    ASSERT_EQ(flow.inflight_ids().front(), direct_qos1_flow::first_packet_id + i);
    ASSERT_TRUE(flow.complete(flow.inflight_ids().front(), clock::now(), out, done));
  }
  auto one = deliveries({"x"});
  flow.offer(one, clock::now(), out);
  EXPECT_EQ(flow.inflight_ids().front(), direct_qos1_flow::first_packet_id);
}

TEST(direct_qos1_flow, an_id_still_in_flight_is_skipped_when_ids_come_round) {  // MQTT-2.2.1-3
  direct_qos1_flow flow(actors::shared_client_id("c"), 2, limit_100, v311, 0);
  actors::packet_writer out;
  direct_qos1_flow::counts done;
  auto first = deliveries({"never acknowledged"});
  flow.offer(first, clock::now(), out);
  for (int i = 1; i < direct_qos1_flow::max_window; ++i) {
    auto one = deliveries({"x"});
    flow.offer(one, clock::now(), out);
    ASSERT_TRUE(flow.complete(flow.inflight_ids().back(), clock::now(), out, done));
  }
  auto next = deliveries({"y"});
  flow.offer(next, clock::now(), out);
  EXPECT_EQ(flow.inflight_ids(), (std::vector<uint16_t>{direct_qos1_flow::first_packet_id,
                                                        direct_qos1_flow::first_packet_id + 1}));
}

TEST(direct_qos1_flow, an_unknown_puback_is_not_this_flows) {
  direct_qos1_flow flow(actors::shared_client_id("c"), 2, limit_100, v311, 0);
  actors::packet_writer out;
  direct_qos1_flow::counts done;
  EXPECT_FALSE(flow.complete(direct_qos1_flow::first_packet_id, clock::now(), out, done));
}

TEST(direct_qos1_flow, beyond_the_queue_limit_the_newest_are_dropped) {
  direct_qos1_flow flow(actors::shared_client_id("c"), 1, limit_1, v311, 0);
  actors::packet_writer out;
  auto batch = deliveries({"sent", "queued", "dropped"});
  auto done = flow.offer(batch, clock::now(), out);
  EXPECT_EQ(done.sent, 1U);
  EXPECT_EQ(done.dropped, 1U);
  EXPECT_EQ(flow.queued(), 1U);
}

TEST(direct_qos1_flow, a_publish_above_the_clients_maximum_packet_size_is_dropped_without_an_id) {
  direct_qos1_flow flow(actors::shared_client_id("c"), 2, limit_100, mqtt::protocol_version::v5,
                        16);  // MQTT-3.1.2-25
  actors::packet_writer out;
  auto batch = deliveries({"far too long for sixteen bytes", "ok"});
  auto done = flow.offer(batch, clock::now(), out);
  EXPECT_EQ(done.dropped, 1U);
  EXPECT_EQ(done.sent, 1U);
  EXPECT_EQ(flow.inflight_ids(), (std::vector<uint16_t>{direct_qos1_flow::first_packet_id}));
}

TEST(direct_qos1_flow, an_expired_message_is_not_sent) {  // MQTT-3.3.2-5
  direct_qos1_flow flow(actors::shared_client_id("c"), 2, limit_100, v311, 0);
  actors::packet_writer out;
  auto batch = deliveries({"old", "new"});
  auto now = clock::now();
  std::const_pointer_cast<actors::message>(batch[0].msg)->expires_at = now - std::chrono::seconds(1);
  flow.offer(batch, now, out);
  EXPECT_EQ(sent_payloads(out), (std::vector<std::string>{"new"}));
}

}  // namespace
}  // namespace mqhub::net
