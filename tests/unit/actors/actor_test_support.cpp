#include "actor_test_support.hpp"

#include <span>

#include <caf/actor_registry.hpp>
#include <caf/exit_reason.hpp>

#include "actors/wire_form.hpp"
#include "net/mqtt/decoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::actors::test_support {

std::vector<net::mqtt::packet> decode_packets(const std::vector<out_buffer>& buffers,
                                              net::mqtt::protocol_version version) {
  // A large payload may come in a buffer of its own, after its PUBLISH's head: frame the bytes as a whole.
  std::string bytes;
  for (const auto& buffer : buffers)
    bytes += *buffer;
  std::vector<net::mqtt::packet> packets;
  std::span<const uint8_t> rest{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  while (!rest.empty()) {
    auto frame = net::mqtt::peek_frame(rest, 0);
    if (frame.state != net::mqtt::frame::status::complete) {
      ADD_FAILURE() << "the output ends in " << rest.size() << " bytes that are not a whole packet";
      break;
    }
    auto decoded = net::mqtt::decode_packet(frame.first_byte,
                                            rest.subspan(frame.header_size, frame.remaining_length), version);
    if (!decoded) {
      ADD_FAILURE() << "the output holds a packet that does not decode: " << decoded.error().reason;
      break;
    }
    packets.push_back(std::move(*decoded));
    rest = rest.subspan(frame.total_size());
  }
  return packets;
}

void fake_sink::write(std::vector<out_buffer> buffers) {
  calls.push_back({call_kind::write, std::move(buffers)});
}

void fake_sink::write_deliveries(std::vector<out_buffer> buffers) {
  calls.push_back({call_kind::write_deliveries, std::move(buffers)});
}

void fake_sink::write_direct_qos1(std::vector<delivery>& deliveries, net::mqtt::protocol_version /*version*/,
                                  uint32_t /*maximum_packet_size*/) {
  for (auto& d : deliveries)
    direct_qos1.push_back(std::move(d));
  deliveries.clear();
}

void fake_sink::attached(caf::actor session, std::vector<out_buffer> first_packets) {
  ++attach_count;
  attached_session = std::move(session);
  calls.push_back({call_kind::attached, std::move(first_packets)});
}

void fake_sink::close(std::vector<out_buffer> last_packets,
                      std::unique_ptr<net::mqtt::will_message> last_will) {
  closed = true;
  will = std::move(last_will);
  calls.push_back({call_kind::close, std::move(last_packets)});
}

std::vector<net::mqtt::packet> fake_sink::packets() const {
  std::vector<out_buffer> all;
  for (const auto& c : calls)
    all.insert(all.end(), c.buffers.begin(), c.buffers.end());
  return decode_packets(all, version);
}

std::vector<net::mqtt::packet> fake_sink::packets_of(call_kind kind) const {
  std::vector<out_buffer> all;
  for (const auto& c : calls)
    if (c.kind == kind)
      all.insert(all.end(), c.buffers.begin(), c.buffers.end());
  return decode_packets(all, version);
}

probe_actor::probe_actor(caf::actor_config& cfg, std::shared_ptr<probe_log> log)
    : caf::event_based_actor(cfg), log_(std::move(log)) {}

caf::behavior probe_actor::make_behavior() {
  return {
      [this](delivery_batch& batch) { log_->delivery_batches.push_back(std::move(batch)); },
      [this](const subscribe_request& request) -> caf::result<subscribe_reply> {
        log_->subscribe_requests.push_back(request);
        if (!log_->hold_subscribe_replies)
          return subscribe_reply{log_->retained};
        held_.push_back(make_response_promise<subscribe_reply>());
        return held_.back();
      },
      [this](release_atom) {
        for (auto& promise : std::exchange(held_, {}))
          promise.deliver(subscribe_reply{log_->retained});
      },
      [this](const unsubscribe_request& request) { log_->unsubscribe_requests.push_back(request); },
      [this](const end_of_session& end) {
        log_->ends_of_session.push_back(end);
        return true;
      },
      [this](const subscribe_done& done) { log_->subscribes_done.push_back(done); },
      [this](const session_presence& presence) { log_->presences.push_back(presence); },
      [this](publish_batch& batch) { log_->publish_batches.push_back(std::move(batch)); },
      [this](const session_end_request& request) {
        log_->session_end_requests.push_back(request);
        return log_->may_end;
      },
      [this](const adopt_session& adopted) { log_->adopted.push_back(adopted); },
      [this](node_deliveries& got) { log_->node_deliveries_got.push_back(std::move(got)); },
      [this](local_routes& got) { log_->local_routes_got.push_back(std::move(got)); },
      [this](remote_routes& got) { log_->remote_routes_got.push_back(std::move(got)); },
      [this](const cluster::forward_ack& got) { log_->forward_acks.push_back(got); },
      [this](cluster::publish_forward& got) { log_->publish_forwards.push_back(std::move(got)); },
      [this](cluster::delivery_forward& got) { log_->delivery_forwards.push_back(std::move(got)); },
      [this](cluster::route_update& got) { log_->route_updates.push_back(std::move(got)); },
      [this](const cluster::client_arrival& got) { log_->arrivals.push_back(got); },
      [this](const cluster::client_taken_over& got) { log_->taken_over.push_back(got); },
      [this](const take_over_from_elsewhere& got) { log_->takeovers.push_back(got); },
      [this](const cluster::no_session_to_move& got) { log_->nothing_to_move.push_back(got); },
      [this](const cluster::restored_sessions& got) { log_->restored.push_back(got); },
  };
}

message_ptr make_full_message() {
  auto msg = std::make_shared<message>();
  msg->topic = "a/b";
  msg->payload = std::string("\0binary", 7);
  msg->qos_level = net::mqtt::qos::exactly_once;
  msg->retain = true;
  net::mqtt::properties props;
  props.payload_format_indicator = 1;
  props.content_type = "text/plain";
  props.response_topic = "reply/here";
  props.correlation_data = std::string("\x01\x00\x02", 3);
  props.user_properties.emplace_back("k", "v");
  props.user_properties.emplace_back("k", "second");
  msg->props = std::make_unique<const net::mqtt::properties>(props);
  msg->publisher = shared_client_id("device-1");
  return msg;
}

void expect_same_message(const message& got, const message& want) {
  EXPECT_EQ(got.topic, want.topic);
  EXPECT_EQ(got.payload, want.payload);
  EXPECT_EQ(got.qos_level, want.qos_level);
  EXPECT_EQ(got.retain, want.retain);
  EXPECT_EQ(got.properties(), want.properties());
  EXPECT_EQ(got.publisher.view(), want.publisher.view());
  EXPECT_FALSE(got.expires_at);
}

message_ptr make_test_message(std::string topic, std::string payload, net::mqtt::qos qos, bool retain,
                              const std::string& publisher) {
  net::mqtt::publish_packet publish;
  publish.topic = std::move(topic);
  publish.payload = std::move(payload);
  publish.qos_level = qos;
  publish.retain = retain;
  return make_message(std::move(publish), shared_client_id(publisher), clock::now());
}

std::vector<std::string> topics_in(const cluster::message_batch& batch) {
  std::vector<std::string> topics;
  auto messages = read_batch(batch, clock::now());
  EXPECT_TRUE(messages.has_value()) << "a damaged batch";
  if (messages)
    for (const auto& arrived : *messages)
      topics.push_back(arrived.msg->topic);
  return topics;
}

cluster::message_batch batch_of(const std::vector<std::string>& topics) {
  cluster::message_batch batch;
  for (const auto& topic : topics)
    append_to_batch(batch, *make_test_message(topic, "p", net::mqtt::qos::at_least_once), clock::now());
  return batch;
}

delivery delivery_of(message_ptr msg, uint8_t qos) {
  delivery d;
  d.msg = std::move(msg);
  d.qos = qos;
  return d;
}

actor_test::config::config() {
  set("scheduler.policy", caf::atom("testing"));
  set("logger.file-verbosity", caf::atom("quiet"));
  set("logger.console-verbosity", caf::atom("quiet"));
}

actor_test::actor_test()
    : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

actor_test::~actor_test() {
  for (const auto& actor : spawned)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  run();
  spawned.clear();
  if (auto left = sys.registry().running(); left != 0) {
    // A cycle of handles, or an actor nobody stopped: the system would wait for it forever.
    ADD_FAILURE() << left << " actor(s) still running at the end of the test";
    sys.await_actors_before_shutdown(false);
  }
}

std::shared_ptr<bool> actor_test::exit_flag(const caf::actor& actor) {
  auto exited = std::make_shared<bool>(false);
  actor->attach_functor([exited](const caf::error&) { *exited = true; });
  return exited;
}

}  // namespace mqhub::actors::test_support
