#include "actors/session_directory.hpp"

#include <utility>

#include <caf/actor_cast.hpp>

namespace mqhub::actors {

session_directory::session_directory(caf::actor_config& cfg, session_context context)
    : caf::event_based_actor(cfg), context_(std::move(context)) {}

caf::behavior session_directory::make_behavior() {
  return {
      [this](connect_request& request) { connect(request); },
      [this](const session_end_request& request) { return may_end(request); },
  };
}

void session_directory::on_exit() {
  sessions_.clear();  // the handles would keep the (linked, now exiting) sessions alive
}

void session_directory::connect(connect_request& request) {
  auto& e = sessions_[request.client_id];
  if (!e.session) {
    // Linked: when the directory shuts down, its sessions go with it.
    e.session =
        spawn<session_actor, caf::linked>(context_, caf::actor_cast<caf::actor>(this), request.client_id);
  }
  ++e.attach_count;
  send(e.session, std::move(request));
}

bool session_directory::may_end(const session_end_request& request) {
  auto it = sessions_.find(request.client_id);
  if (it == sessions_.end() || it->second.attach_count != request.attach_count)
    return false;
  if (current_sender() == nullptr || current_sender()->id() != it->second.session.id())
    return false;
  sessions_.erase(it);
  return true;
}

}  // namespace mqhub::actors
