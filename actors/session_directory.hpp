#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include <caf/event_based_actor.hpp>

#include "actors/session_actor.hpp"

namespace mqhub::actors {

/// Client id → session actor for a slice of the client ids (DESIGN §3). It spawns sessions, hands them
/// their connections and decides, without races, when a session may end.
class session_directory : public caf::event_based_actor {
 public:
  session_directory(caf::actor_config& cfg, std::shared_ptr<const session_context> context);

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  struct entry {
    caf::actor session;
    uint64_t attach_count = 0;
  };

  void connect(connect_request& request);
  bool may_end(const session_end_request& request);
  void forget_failed(const caf::down_msg& down);
  caf::result<bool> restore(restore_sessions& restore);
  caf::result<bool> drain_sessions();
  /// A promise kept once every session has answered its message (or is gone).
  template <class Message>
  caf::result<bool> ask_every_session(std::vector<std::pair<caf::actor, Message>> asks);
  caf::actor spawn_session(const std::string& client_id);

  std::shared_ptr<const session_context> context_;
  std::unordered_map<std::string, entry> sessions_;
};

}  // namespace mqhub::actors
