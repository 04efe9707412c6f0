#include "actors/session_directory.hpp"

#include <utility>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/session_farewell.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::actors {

session_directory::session_directory(caf::actor_config& cfg, std::shared_ptr<const session_context> context,
                                     std::shared_ptr<session_table> table)
    : caf::event_based_actor(cfg),
      context_(std::move(context)),
      table_(std::move(table)),
      sessions_(table_->entries) {}

caf::behavior session_directory::make_behavior() {
  // Every handler holds the table's mutex: connections change it from their own threads (see session_table).
  set_down_handler([this](caf::down_msg& down) {
    std::lock_guard guard{table_->mutex};
    forget_failed(down);
  });
  return {
      [this](connect_request& request) {
        std::lock_guard guard{table_->mutex};
        --table_->connects_in_flight;
        connect(request);
      },
      [this](const adopt_session& adopted) { monitor(adopted.session); },
      [this](const session_end_request& request) {
        std::lock_guard guard{table_->mutex};
        return may_end(request);
      },
      [this](restore_sessions& restore) {
        std::lock_guard guard{table_->mutex};
        return this->restore(restore);
      },
      [this](drain) {
        std::lock_guard guard{table_->mutex};
        return drain_sessions();
      },
      [this](const take_over_from_elsewhere& taken) {
        std::lock_guard guard{table_->mutex};
        take_over_from(taken);
      },
      [this](cluster::session_handoff& handoff) {
        std::lock_guard guard{table_->mutex};
        return take_handoff(handoff);
      },
      [this](const commit_result& result) {
        std::lock_guard guard{table_->mutex};
        on_handoff_stored(result);
      },
      [this](const cluster::no_session_to_move& none) {
        std::lock_guard guard{table_->mutex};
        stop_waiting(none.client_id);
      },
      [this](const session_stays& stays) {
        std::lock_guard guard{table_->mutex};
        moved_out(stays.client_id, true);
      },
      [this](const handoff_wait_over& over) {
        std::lock_guard guard{table_->mutex};
        if (auto it = waiting_.find(over.client_id);
            it != waiting_.end() && it->second.wait_id == over.wait_id) {
          spdlog::warn("cluster: no word of {}'s session from the node it was at; it starts anew here",
                       over.client_id);
          stop_waiting(over.client_id);
        }
      },
      [this](start_timers) {
        std::lock_guard guard{table_->mutex};
        for (const auto& [client_id, e] : sessions_)
          if (e.session)
            send(e.session, session_event{start_timers{}});
      },
  };
}

void session_directory::on_exit() {
  // Sessions go with their directory. Not by linking them: each exit of a linked session searches the
  // directory's list of links, a scan per disconnect that grows with the sessions; monitoring costs one
  // message per ended session.
  std::lock_guard guard{table_->mutex};
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
      auto client_id = it->first;
      sessions_.erase(it);
      moved_out(client_id, false);
      return;
    }
  }
}

void session_directory::connect(connect_request& request) {
  auto [it, new_here] = sessions_.try_emplace(request.client_id);
  auto& e = it->second;
  if (e.dormant.sink)
    take_over_dormant(e);
  // A session moving out comes back through the node it moves to.
  if (wait_for_session(request, (new_here && !e.session) || moving_out_.contains(request.client_id)))
    return;
  start_session(e, request);
}

void session_directory::start_session(entry& e, connect_request& request) {
  if (!e.session) {
    if (request.session_expiry == 0) {
      e.dormant = dormant_session::of(request);
      std::string connack;
      net::mqtt::encode(request.connack, request.version, connack);  // session present 0: there was none
      e.dormant.sink->attached(caf::actor{}, {std::make_shared<const std::string>(std::move(connack))});
      return;
    }
    e.session = spawn_session(request.client_id);
  }
  ++e.attach_count;
  send(e.session, std::move(request));
}

void session_directory::take_over_from(const take_over_from_elsewhere& taken) {
  if (taken.if_restored) {
    // Only the restored session decides: whether a client connected to it since.
    if (auto it = sessions_.find(taken.client_id); it != sessions_.end() && it->second.session)
      send(it->second.session, session_event{taken_over_elsewhere{{}, true}});
    return;
  }
  // A CONNECT waiting here for its session is the older one: it goes on, and is taken over.
  stop_waiting(taken.client_id);
  auto it = sessions_.find(taken.client_id);
  if (it != sessions_.end()) {
    auto& e = it->second;
    if (e.dormant.sink)
      take_over_dormant(e);
    if (e.session) {
      if (taken.moving_to)
        moving_out_.try_emplace(taken.client_id);
      send(e.session, session_event{taken_over_elsewhere{taken.moving_to, false}});
      return;
    }
    sessions_.erase(it);
  }
  if (taken.moving_to)
    send(taken.moving_to, cluster::no_session_to_move{taken.client_id});
}

size_t directory_index_of(std::string_view client_id, size_t directories) {
  return std::hash<std::string_view>{}(client_id) % directories;
}

void session_directory::take_over_dormant(entry& e) {
  auto old = std::exchange(e.dormant, {});
  old.sink->close(disconnect_packets(old.version, net::mqtt::reason_code::session_taken_over),
                  std::move(old.will));
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
  moved_out(request.client_id, false);
  return true;
}

caf::actor wake_dormant_session(caf::actor_system& system, session_table& table, const caf::actor& directory,
                                const std::shared_ptr<const session_context>& context,
                                const std::string& client_id, const connection_sink* sink) {
  caf::actor session;
  {
    std::lock_guard guard{table.mutex};
    auto it = table.entries.find(client_id);
    if (it == table.entries.end() || it->second.dormant.sink.get() != sink)
      return session;
    auto& e = it->second;
    auto request = std::exchange(e.dormant, {}).wake(client_id);
    // Lazily initialised, as the directory starts its own: the connect request starts it.
    session = system.spawn<session_actor, caf::lazy_init>(context, directory, client_id);
    e.session = session;
    ++e.attach_count;
    caf::anon_send(session, std::move(request));
  }
  caf::anon_send(directory, adopt_session{session});
  return session;
}

}  // namespace mqhub::actors
