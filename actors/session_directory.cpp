#include "actors/session_directory.hpp"

#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/session_farewell.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

session_directory::session_directory(caf::actor_config& cfg, std::shared_ptr<const session_context> context)
    : caf::event_based_actor(cfg), context_(std::move(context)) {}

caf::behavior session_directory::make_behavior() {
  set_down_handler([this](caf::down_msg& down) { forget_failed(down); });
  return {
      [this](connect_request& request) { connect(request); },
      [this](const wake_session& w) { wake(w); },
      [this](dormant_connection_closed& closed) { on_dormant_closed(closed); },
      [this](const session_end_request& request) { return may_end(request); },
      [this](restore_sessions& restore) { return this->restore(restore); },
      [this](drain) { return drain_sessions(); },
      [this](start_timers) {
        for (const auto& [client_id, e] : sessions_)
          if (e.session)
            send(e.session, session_event{start_timers{}});
      },
  };
}

void session_directory::on_exit() {
  // Sessions go with their directory. Not by linking them: each exit of a linked session searches the
  // directory's list of links, a scan per disconnect that grows with the sessions (15,000 connects and
  // disconnects: 1.12-1.21 s of broker CPU linked, 0.85-0.90 s monitored).
  for (const auto& [client_id, e] : sessions_)
    if (e.session)
      caf::anon_send_exit(e.session, caf::exit_reason::user_shutdown);
  sessions_.clear();
}

void session_directory::forget_failed(const caf::down_msg& down) {
  if (down.reason == caf::exit_reason::normal)
    return;  // it asked may_end first and is no longer listed
  // A session that failed must not take its client's next CONNECT with it: the client gets a new one.
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->second.session.address() == down.source) {
      sessions_.erase(it);
      return;
    }
  }
}

void session_directory::connect(connect_request& request) {
  auto& e = sessions_[request.client_id];
  if (e.dormant.sink)
    take_over_dormant(e, request.client_id);
  if (!e.session) {
    if (request.session_expiry == 0) {
      make_dormant(e, request);
      return;
    }
    e.session = spawn_session(request.client_id);
  }
  ++e.attach_count;
  send(e.session, std::move(request));
}

void session_directory::make_dormant(entry& e, connect_request& request) {
  auto& d = e.dormant;
  d.sink = std::move(request.sink);
  if (request.will)
    d.will = std::make_unique<net::mqtt::will_message>(std::move(*request.will));
  d.maximum_packet_size = request.maximum_packet_size;
  d.receive_maximum = request.receive_maximum;
  d.version = request.version;
  d.request_problem_information = request.request_problem_information;
  std::string connack;
  net::mqtt::encode(request.connack, request.version, connack);  // session present 0: there was none
  d.sink->attached(caf::actor{}, {std::make_shared<const std::string>(std::move(connack))});
}

void session_directory::take_over_dormant(entry& e, const std::string& client_id) {
  auto old = std::exchange(e.dormant, {});
  old.sink->close(disconnect_packets(old.version, net::mqtt::reason_code::session_taken_over));
  if (old.will)
    publish_will(*context_->shards, std::move(*old.will), client_id);
}

void session_directory::wake(const wake_session& wake) {
  auto it = sessions_.find(wake.client_id);
  if (it == sessions_.end() || it->second.dormant.sink != wake.sink)
    return;  // taken over meanwhile: that connection is closed
  auto& e = it->second;
  auto d = std::exchange(e.dormant, {});
  connect_request request;
  request.sink = std::move(d.sink);
  request.version = d.version;
  request.client_id = wake.client_id;
  request.maximum_packet_size = d.maximum_packet_size;
  request.receive_maximum = d.receive_maximum;
  request.request_problem_information = d.request_problem_information;
  if (d.will)
    request.will = std::move(*d.will);
  request.connack_sent = true;
  e.session = spawn_session(wake.client_id);
  ++e.attach_count;
  send(e.session, std::move(request));
}

void session_directory::on_dormant_closed(dormant_connection_closed& closed) {
  auto it = sessions_.find(closed.client_id);
  if (it == sessions_.end() || it->second.dormant.sink != closed.sink)
    return;  // taken over meanwhile: the will went out then
  auto& will = it->second.dormant.will;
  if (will && !closed.clean_disconnect)
    publish_will(*context_->shards, std::move(*will), closed.client_id);  // MQTT-3.1.2-8
  sessions_.erase(it);
}

caf::actor session_directory::spawn_session(const std::string& client_id) {
  // Lazily initialised: the connect request that follows starts it, one scheduling instead of two.
  // Monitored, which costs the directory one message per ended session, not a search (see on_exit).
  return spawn<session_actor, caf::monitored + caf::lazy_init>(context_, caf::actor_cast<caf::actor>(this),
                                                               client_id);
}

caf::result<bool> session_directory::restore(restore_sessions& restore) {
  std::vector<std::pair<caf::actor, restore_session>> asks;
  asks.reserve(restore.sessions.size());
  for (auto& session : restore.sessions) {
    const auto& client_id = session.state->record.client_id;
    auto& e = sessions_[client_id];
    e.session = spawn_session(client_id);
    asks.emplace_back(e.session, std::move(session));
  }
  return ask_every_session(std::move(asks));
}

caf::result<bool> session_directory::drain_sessions() {
  std::vector<std::pair<caf::actor, drain>> asks;
  asks.reserve(sessions_.size());
  for (const auto& [client_id, e] : sessions_)
    if (e.session)
      asks.emplace_back(e.session, drain{});
  return ask_every_session(std::move(asks));
}

template <class Message>
caf::result<bool> session_directory::ask_every_session(std::vector<std::pair<caf::actor, Message>> asks) {
  auto promise = make_response_promise<bool>();
  if (asks.empty()) {
    promise.deliver(true);
    return promise;
  }
  auto missing = std::make_shared<size_t>(asks.size());
  auto answered = [promise, missing]() mutable {
    if (--*missing == 0)
      promise.deliver(true);
  };
  for (auto& [session, message] : asks)
    request(session, caf::infinite, std::move(message))
        .then([answered](bool) mutable { answered(); },
              [answered](const caf::error&) mutable { answered(); });
  return promise;
}

bool session_directory::may_end(const session_end_request& request) {
  auto it = sessions_.find(request.client_id);
  if (it == sessions_.end() || it->second.attach_count != request.attach_count)
    return false;
  if (!it->second.session || current_sender() == nullptr || current_sender()->id() != it->second.session.id())
    return false;
  sessions_.erase(it);
  return true;
}

}  // namespace mqhub::actors
