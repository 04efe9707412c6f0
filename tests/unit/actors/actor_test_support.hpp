#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/broker_stats.hpp"
#include "actors/connection_sink.hpp"
#include "actors/message.hpp"
#include "actors/messages.hpp"
#include "cluster/wire_types.hpp"
#include "net/mqtt/packet.hpp"

/// What the actor tests share: an actor system on CAF's test coordinator, which delivers messages only when
/// the test says so and on the test's own thread; a connection_sink that records what the actors do with a
/// connection in place of a socket; and a probe actor that stands in for a session, a shard or a directory.
namespace mqhub::actors::test_support {

/// Decodes the packets of a server's output (as a client would read it); a test fails on bytes that are
/// not whole, valid packets of `version`.
std::vector<net::mqtt::packet> decode_packets(const std::vector<out_buffer>& buffers,
                                              net::mqtt::protocol_version version);

/// The packets of type `Packet` among `packets`, in order.
template <class Packet>
std::vector<Packet> only(const std::vector<net::mqtt::packet>& packets) {
  std::vector<Packet> found;
  for (const auto& p : packets)
    if (const auto* match = std::get_if<Packet>(&p))
      found.push_back(*match);
  return found;
}

/// A connection as the actors see it, recording every call. Single-threaded, as everything on the test
/// coordinator is.
class fake_sink final : public connection_sink {
 public:
  enum class call_kind { write, write_deliveries, attached, close };
  struct call {
    call_kind kind;
    std::vector<out_buffer> buffers;
  };

  explicit fake_sink(net::mqtt::protocol_version client_version = net::mqtt::protocol_version::v5)
      : version(client_version) {}

  void write(std::vector<out_buffer> buffers) override;
  void write_publish_acks(out_buffer acks, uint32_t pubacks) override {
    pubacks_ended += pubacks;
    write({std::move(acks)});
  }
  void write_deliveries(std::vector<out_buffer> buffers) override;
  void open_direct_qos1(uint16_t window) override { direct_window = window; }
  void write_direct_qos1(std::vector<delivery>& deliveries, net::mqtt::protocol_version /*version*/,
                         uint32_t /*maximum_packet_size*/) override;
  void attached(caf::actor session, std::vector<out_buffer> first_packets) override;
  void close(std::vector<out_buffer> last_packets, std::unique_ptr<net::mqtt::will_message> will) override;
  void abort() override { ++aborts; }
  size_t pending_bytes() const override { return pending; }
  void routed(size_t inbound_bytes) override { routed_bytes += inbound_bytes; }

  /// Every packet handed over as bytes (written, attached with, closed with), in the order of the calls.
  std::vector<net::mqtt::packet> packets() const;
  /// The packets of one kind of call, in order.
  std::vector<net::mqtt::packet> packets_of(call_kind kind) const;
  std::vector<net::mqtt::publish_packet> publishes() const {
    return only<net::mqtt::publish_packet>(packets());
  }

  net::mqtt::protocol_version version;
  std::vector<call> calls;
  size_t attach_count = 0;
  caf::actor attached_session;  // of the last attached() call
  std::optional<uint16_t> direct_window;
  std::vector<delivery> direct_qos1;  // QoS 1 deliveries handed over for the connection to send
  bool closed = false;
  std::unique_ptr<net::mqtt::will_message> will;  // handed over with close()
  size_t aborts = 0;
  size_t pending = 0;  // what pending_bytes() answers
  size_t routed_bytes = 0;
  size_t pubacks_ended = 0;  // QoS 1 flows the shards' PUBACKs ended (write_publish_acks)
};

/// What a probe_actor received, and how it answers.
struct probe_log {
  std::vector<delivery_batch> delivery_batches;
  std::vector<subscribe_request> subscribe_requests;
  std::vector<unsubscribe_request> unsubscribe_requests;
  std::vector<end_of_session> ends_of_session;
  std::vector<subscribe_done> subscribes_done;
  std::vector<session_presence> presences;
  std::vector<publish_batch> publish_batches;
  std::vector<session_end_request> session_end_requests;
  std::vector<adopt_session> adopted;
  // As a cluster router, gateway or shard sees them.
  std::vector<node_deliveries> node_deliveries_got;
  std::vector<local_routes> local_routes_got;
  std::vector<remote_routes> remote_routes_got;
  std::vector<cluster::forward_ack> forward_acks;
  std::vector<cluster::publish_forward> publish_forwards;
  std::vector<cluster::delivery_forward> delivery_forwards;
  std::vector<cluster::route_update> route_updates;
  std::vector<cluster::client_arrival> arrivals;
  std::vector<cluster::client_taken_over> taken_over;
  std::vector<take_over_from_elsewhere> takeovers;
  std::vector<cluster::no_session_to_move> nothing_to_move;
  std::vector<cluster::restored_sessions> restored;

  /// Subscribe replies wait for release_atom (as a busy shard's would).
  bool hold_subscribe_replies = false;
  /// Sent back in every subscribe reply.
  std::vector<delivery> retained;
  /// The answer to session_end_request.
  bool may_end = true;
};

using release_atom = caf::atom_constant<caf::atom("release")>;

/// Stands in for a shard (answers subscribe_request and end_of_session), a session (takes delivery
/// batches), a directory (answers session_end_request), or a cluster router or another node's gateway, and
/// records what it gets.
class probe_actor : public caf::event_based_actor {
 public:
  probe_actor(caf::actor_config& cfg, std::shared_ptr<probe_log> log);

  caf::behavior make_behavior() override;

 private:
  std::shared_ptr<probe_log> log_;
  std::vector<caf::typed_response_promise<subscribe_reply>> held_;
};

/// A message with every field and every property a routed message can carry set, for round-trip tests.
message_ptr make_full_message();

/// Expects `got` to have every field and property of `want`, and no expiry.
void expect_same_message(const message& got, const message& want);

/// A message as a connection would route it.
message_ptr make_test_message(std::string topic, std::string payload,
                              net::mqtt::qos qos = net::mqtt::qos::at_most_once, bool retain = false,
                              const std::string& publisher = "publisher");

/// The topics of the messages of a batch for another node, in order; a damaged batch fails the test.
std::vector<std::string> topics_in(const cluster::message_batch& batch);

/// A batch for another node of messages on `topics`.
cluster::message_batch batch_of(const std::vector<std::string>& topics);

/// One delivery of `msg` at `qos`, as a shard hands it to a session.
delivery delivery_of(message_ptr msg, uint8_t qos);

/// An actor system on the test coordinator: messages sent from the test or by actors wait in mailboxes
/// until run() delivers them, one at a time, on the test's thread; timers fire only when the test triggers
/// them. Every actor the test spawned is stopped at the end, and the test fails when one outlives it.
class actor_test : public ::testing::Test {
 protected:
  struct config : caf::actor_system_config {
    config();
  };

  actor_test();
  ~actor_test() override;

  /// Spawns an actor that is stopped when the test ends.
  template <class Actor, class... Ts>
  caf::actor spawn(Ts&&... xs) {
    auto actor = sys.spawn<Actor>(std::forward<Ts>(xs)...);
    spawned.push_back(actor);
    return actor;
  }

  caf::actor spawn_probe(const std::shared_ptr<probe_log>& log) { return spawn<probe_actor>(log); }

  /// Delivers every message waiting, and every message that causes, until no actor has anything to do.
  /// Timers stay untouched (see advance_time).
  size_t run() { return sched.run(); }

  /// Moves the test clock on by `elapsed`, fires the timers (delayed_send) due by then, and runs what that
  /// causes.
  void advance_time(caf::timespan elapsed) {
    sched.advance_time(elapsed);
    run();
  }

  /// Sends `message` to `to` as a request; the reply, once run() has delivered it, is in the result.
  template <class Reply, class Request>
  std::shared_ptr<std::optional<Reply>> ask(const caf::actor& to, Request message) {
    auto reply = std::make_shared<std::optional<Reply>>();
    spawned.push_back(sys.spawn([reply, to, message](caf::event_based_actor* self) -> caf::behavior {
      self->request(to, caf::infinite, message).then([self, reply](Reply& r) {
        *reply = std::move(r);
        self->quit();
      });
      return {[](release_atom) {}};
    }));
    return reply;
  }

  /// Set once `actor` has terminated.
  static std::shared_ptr<bool> exit_flag(const caf::actor& actor);

  config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<broker_stats> stats = std::make_shared<broker_stats>();
  std::vector<caf::actor> spawned;
};

}  // namespace mqhub::actors::test_support
