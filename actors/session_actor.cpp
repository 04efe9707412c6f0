#include "actors/session_actor.hpp"

#include <chrono>
#include <type_traits>
#include <utility>
#include <variant>

#include <caf/actor_cast.hpp>

#include "actors/session_farewell.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

namespace {

constexpr uint32_t never_expires = 0xFFFFFFFF;

// With CAF's 64-byte control block this is jemalloc's 1280-byte class; 8 bytes more would make it 1536, for
// every connected client: keep what an idle session needs only on the heap.
static_assert(sizeof(void*) != 8 || sizeof(session_actor) <= 1216, "session_actor outgrew its size class");

}  // namespace

session_actor::session_actor(caf::actor_config& cfg, std::shared_ptr<const session_context> context,
                             caf::actor directory, std::string client_id)
    : caf::event_based_actor(cfg),
      context_(std::move(context)),
      directory_(std::move(directory)),
      client_id_(std::move(client_id)) {}

caf::behavior session_actor::make_behavior() {
  return {
      [this](connect_request& request) { take_connection(request); },
      [this](session_input& input) { handle_input(input); },
      [this](delivery_batch& batch) { deliver(batch); },
      [this](const session_event& event) { handle_event(event); },
      [this](const commit_result& result) { on_commit(result); },
      [this](restore_session& state) { return restore(state); },
      [this](drain) {
        // The node stops: a restart resends what is unacknowledged with DUP and its packet id.
        store_inflight_states();
        commit_writes();
        return true;
      },
  };
}

void session_actor::handle_event(const session_event& event) {
  std::visit(
      [this](const auto& e) {
        using event_type = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<event_type, connection_closed>)
          on_connection_closed(e);
        else if constexpr (std::is_same_v<event_type, session_expiry_tick>)
          on_session_expiry(e);
        else if constexpr (std::is_same_v<event_type, will_delay_tick>)
          on_will_delay(e);
        else if constexpr (std::is_same_v<event_type, inbound_qos2_outcome>)
          on_inbound_qos2_outcome(e);
        else if constexpr (std::is_same_v<event_type, start_timers>)
          start_restored_timers();
        else if constexpr (std::is_same_v<event_type, taken_over_elsewhere>)
          on_taken_over_elsewhere(e);
        else if constexpr (std::is_same_v<event_type, inflight_state_tick>)
          on_inflight_state_tick();
        else if constexpr (std::is_same_v<event_type, handoff_grace_over>)
          finish_hand_off();
        else
          static_assert(!sizeof(event_type), "a session_event without a handler");
      },
      event);
}

packet_writer& session_actor::writer() {
  if (!writer_)
    writer_ = std::make_unique<packet_writer>();
  return *writer_;
}

void session_actor::hand_output_to(connection_sink* sink) {
  if (!writer_)
    return;
  writer_->flush_to(sink);
  writer_.reset();
}

const session_actor::subscription_map& session_actor::subscriptions() const {
  static const subscription_map none;
  return subscriptions_ ? *subscriptions_ : none;
}

session_actor::subscription_map& session_actor::subscriptions_to_change() {
  if (!subscriptions_)
    subscriptions_ = std::make_unique<subscription_map>();
  return *subscriptions_;
}

void session_actor::on_exit() {
  // Handles to shards, the directory and the connection would keep them (and this actor) alive in a cycle.
  sink_.reset();
  context_.reset();
  directory_ = caf::actor{};
}

void session_actor::take_connection(connect_request& request) {
  ++attach_count_;
  if (handoff()) {
    // The client came back while its session moves to the node it connected at before: it tries again.
    request.connack.code = mqtt::reason_code::server_busy;
    std::string connack;
    mqtt::encode(request.connack, request.version, connack);
    request.sink->close({std::make_shared<const std::string>(std::move(connack))}, nullptr);
    return;
  }
  ++epoch_;
  // A session with expiry 0 ends with its connection (MQTT-3.1.2-6; 5.0: 3.1.2.11.2), even when the next
  // CONNECT reaches this actor before the directory has let it end.
  bool had_session = (attach_count_ > 1 || restored_) && !ended_ && session_expiry_ != 0;
  bool continues = had_session && !request.clean_start;
  ended_ = false;
  if (sink_) {
    // Takeover (MQTT-3.1.4-3): the old connection is told why and closed; its will goes out unless the
    // session continues within the will delay (MQTT-3.1.3-9).
    bool delayed = will_ && will_->props.will_delay_interval.value_or(0) > 0;
    std::unique_ptr<net::mqtt::will_message> will;
    if (!continues || !delayed)
      will = std::move(will_);
    close_connection(mqtt::reason_code::session_taken_over, {}, std::move(will));
    sink_.reset();
  } else if (will_pending_ && !continues) {
    publish_will();  // the old session ends now, before its will delay (MQTT-3.1.3-9)
  }
  will_pending_ = false;
  will_.reset();

  if (request.clean_start || !had_session) {
    clear_subscriptions();
    drop_stored_session();
    outbound_.clear();
    inbound_qos2_.reset();
    had_session = false;
  }

  sink_ = std::move(request.sink);
  version_ = request.version;
  session_expiry_ = request.session_expiry;
  disconnected_at_ = 0;
  will_.reset();
  if (request.will)
    will_ = std::make_unique<net::mqtt::will_message>(std::move(*request.will));
  if (persists())
    save_session();
  else
    drop_stored_session();  // a session that no longer persists leaves nothing behind
  client_maximum_packet_size_ = request.maximum_packet_size;
  share_window(std::min<size_t>(context_->limits.max_inflight, request.receive_maximum), had_session);

  // Before the CONNACK: once the client has it, a message may be published to it at once, and its shards
  // must know the new connection by then. What they write to it before it is attached follows the CONNACK.
  shards_store_entries_ = persists();
  if (had_session)
    announce_presence();
  if (!request.connack_sent) {
    request.connack.session_present = had_session;  // MQTT-3.2.2-2, -3
    writer().append(request.connack, version_);
  }
  attach_pending_ = true;
  flush();
  auto now = clock::now();
  resend_inflight(now);  // MQTT-4.4.0-1
  fill_window(now);
  flush();
}

void session_actor::on_connection_closed(const connection_closed& closed) {
  if (closed.sink != sink_)
    return;  // a connection that was already taken over
  sink_.reset();
  outbound_.set_online(false);
  discard_held_output();
  ++epoch_;
  announce_presence();
  if (closed.session_expiry)
    session_expiry_ = *closed.session_expiry;
  if (closed.clean_disconnect)
    will_.reset();  // MQTT-3.1.2-8
  if (will_) {
    auto delay = will_->props.will_delay_interval.value_or(0);
    if (delay == 0 || session_expiry_ == 0) {
      publish_will();
    } else {
      will_pending_ = true;
      delayed_send(caf::actor_cast<caf::actor>(this), std::chrono::seconds(delay),
                   session_event{will_delay_tick{epoch_}});
    }
  }
  if (session_expiry_ == 0) {
    end_session();
    return;
  }
  if (session_expiry_ != never_expires)
    delayed_send(caf::actor_cast<caf::actor>(this), std::chrono::seconds(session_expiry_),
                 session_event{session_expiry_tick{epoch_}});
  disconnected_at_ = storage::wall_clock_now();
  save_session();
  store_inflight_states();  // a restart now resends them with DUP and their packet ids
  commit_writes();
}

void session_actor::on_inflight_state_tick() {
  store_inflight_states();
  commit_writes();
}

void session_actor::on_will_delay(const will_delay_tick& tick) {
  if (tick.epoch == epoch_ && will_pending_)
    publish_will();
}

void session_actor::on_session_expiry(const session_expiry_tick& tick) {
  if (tick.epoch == epoch_ && !sink_)
    end_session();
}

void session_actor::end_session() {
  if (ended_)
    return;
  // The session's state ends now, whatever comes next.
  ended_ = true;
  if (will_pending_)
    publish_will();  // the session ends before the will delay (MQTT-3.1.3-9)
  drop_stored_session();
  outbound_.clear();
  inbound_qos2_.reset();
  commit_writes();
  // The actor stays until every shard has sent what it routed here before the unsubscribe: each arrives
  // while `ended_` and has its stored entry removed, instead of leaving it behind in a dead actor's mailbox.
  leave_shards([this] {
    if (ended_)
      leave_directory();
  });
}

void session_actor::leave_shards(std::function<void()> then) {
  auto unsubscribes = take_subscriptions();
  auto missing = std::make_shared<size_t>(1);
  auto shards_done = [missing, then = std::move(then)] {
    if (--*missing == 0)
      then();
  };
  const auto& shards = *context_->shards;
  auto self = caf::actor_cast<caf::actor>(this);
  for (size_t i = 0; i < unsubscribes.size(); ++i) {
    if (unsubscribes[i].filters.empty() && !durable())
      continue;
    unsubscribes[i].session = self;
    ++*missing;
    request(shards[i], caf::infinite, end_of_session{std::move(unsubscribes[i])}).then([shards_done](bool) {
      shards_done();
    });
  }
  shards_done();
}

void session_actor::leave_directory() {
  // The directory refuses when it has handed this actor a new connection meanwhile: that attach is then
  // already in the mailbox and starts a new session here (session present 0).
  request(directory_, caf::infinite, session_end_request{client_id_, attach_count_}).then([this](bool ok) {
    if (ok)
      quit();
  });
}

void session_actor::publish_will() {
  will_pending_ = false;
  if (!will_)
    return;
  actors::publish_will(*context_->shards, std::move(*will_), client_id_);
  will_.reset();
  if (!sink_) {
    save_session();  // without the will, or a restart would send it again
    commit_writes();
  }
}

void session_actor::clear_subscriptions() {
  if (subscriptions().empty())
    return;
  auto requests = take_subscriptions();
  send_unsubscribes(requests);
}

std::vector<unsubscribe_request> session_actor::take_subscriptions() {
  const auto& shards = *context_->shards;
  std::vector<unsubscribe_request> requests(shards.size());
  for (const auto& subscribed : subscriptions()) {
    const auto& entry = subscribed.second;  // a plain reference: lambdas may not capture bindings (C++20)
    shards.for_each_shard_of_filter(
        entry.filter, [&](size_t i) { requests[i].filters.emplace_back(entry.filter, entry.group); });
  }
  count_subscriptions(-static_cast<int64_t>(subscriptions().size()));
  subscriptions_.reset();
  return requests;
}

void session_actor::send_unsubscribes(std::vector<unsubscribe_request>& requests) {
  const auto& shards = *context_->shards;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].filters.empty())
      continue;
    requests[i].session = caf::actor_cast<caf::actor>(this);
    send(shards[i], std::move(requests[i]));
  }
}

void session_actor::announce_presence() {
  const auto& shards = *context_->shards;
  std::vector<bool> told(shards.size(), false);
  auto self = caf::actor_cast<caf::actor>(this);
  for (const auto& [filter, entry] : subscriptions()) {
    shards.for_each_shard_of_filter(entry.filter, [&](size_t i) {
      if (!told[i]) {
        told[i] = true;
        send(shards[i], session_presence{self, link(), shards_store_entries_});
      }
    });
  }
}

void session_actor::share_window(size_t window, bool had_session) {
  // A session that ends with its connection has nothing to resend, so the connection can complete QoS 1
  // itself (this actor's own QoS 1, such as retained messages on subscribe, joins its queue, see deliver);
  // this actor keeps a quarter of the window for QoS 2 and the packet ids below the connection's. A resumed
  // session keeps it all: its queued messages go first.
  direct_qos1_ = session_expiry_ == 0 && !had_session && window >= 4 && sink_ != nullptr;
  outbound_.set_online(sink_ != nullptr);
  outbound_.use_low_packet_ids(direct_qos1_);
  if (!direct_qos1_) {
    outbound_.set_window(window);
    return;
  }
  auto own = window / 4;
  outbound_.set_window(own);
  sink_->open_direct_qos1(static_cast<uint16_t>(std::min<size_t>(window - own, 32768)));
}

void session_actor::disconnect(mqtt::reason_code code, std::string reason) {
  if (!sink_)
    return;
  auto sink = sink_;
  close_connection(code, std::move(reason), take_will_due_at_close());
  // A connection closed by its session sends no notice, so the session notes it here.
  on_connection_closed(connection_closed{sink, false, std::nullopt});
}

std::unique_ptr<net::mqtt::will_message> session_actor::take_will_due_at_close() {
  if (will_ && (will_->props.will_delay_interval.value_or(0) == 0 || session_expiry_ == 0))
    return std::move(will_);
  return nullptr;
}

void session_actor::close_connection(mqtt::reason_code code, std::string reason,
                                     std::unique_ptr<net::mqtt::will_message> will) {
  discard_held_output();
  flush();  // what is not held goes out before the DISCONNECT
  // The DISCONNECT goes with the close, in one step: nothing a shard writes meanwhile can follow it, and it
  // never waits in output held for a commit, which would hand it to the next connection.
  sink_->close(disconnect_packets(version_, code, std::move(reason)), std::move(will));
}

}  // namespace mqhub::actors
