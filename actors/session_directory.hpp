#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/event_based_actor.hpp>

#include "actors/session_actor.hpp"
#include "actors/session_table.hpp"

namespace mqhub::actors {

/// Client id → session actor for a slice of the client ids (docs/architecture.md). It spawns sessions,
/// hands them their connections and decides, without races, when a session may end.
///
/// A session that holds nothing gets no actor until it does: a clean one that ends with its connection
/// (expiry 0), before its client sends a packet that needs one (SUBSCRIBE, UNSUBSCRIBE, a QoS 2 PUBLISH, an
/// acknowledgement). Its entry in the table keeps what the session would start from; QoS 0 and 1 PUBLISHes
/// and PINGREQs go on without it. Such a dormant session costs its entry, not the actor's 1.6 KiB, which
/// would be most of what an idle client costs. A client with nothing to resume is registered and answered
/// by its connection itself (see session_table); the directory answers the CONNECTs of client ids it
/// already has.
class session_directory : public caf::event_based_actor {
 public:
  session_directory(caf::actor_config& cfg, std::shared_ptr<const session_context> context,
                    std::shared_ptr<session_table> table);

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  using entry = session_table::entry;

  void connect(connect_request& request);
  /// A new connection for a dormant session's client id: the old one is told and closed, and the will goes
  /// out (the session ends now, MQTT-3.1.4-3).
  void take_over_dormant(entry& e);
  /// Its client connected at another node: the session here ends (see taken_over_elsewhere).
  void take_over_from(const std::string& client_id);
  bool may_end(const session_end_request& request);
  void forget_failed(const caf::down_msg& down);
  caf::result<bool> restore(restore_sessions& restore);
  caf::result<bool> drain_sessions();
  /// A promise kept once every session has answered its message (or is gone).
  template <class Message>
  caf::result<bool> ask_every_session(std::vector<std::pair<caf::actor, Message>> asks);
  caf::actor spawn_session(const std::string& client_id);

  std::shared_ptr<const session_context> context_;
  std::shared_ptr<session_table> table_;
  std::unordered_map<std::string, entry>& sessions_;  // table_'s, used under its mutex
};

/// Which of `directories` directories keeps the sessions of `client_id`.
size_t directory_index_of(std::string_view client_id, size_t directories);

/// Wakes the dormant session of `sink`'s client on the calling thread, as the directory of `table` would:
/// starts its actor and hands it the connection, under the table's mutex; the directory adopts it. A
/// connection does this for the packet that needs the session, so that it need not wait for an actor message
/// to come back (a SUBSCRIBE takes effect as it is read, issue 21). Null when the session is no longer
/// dormant there: taken over, and the connection closing.
caf::actor wake_dormant_session(caf::actor_system& system, session_table& table, const caf::actor& directory,
                                const std::shared_ptr<const session_context>& context,
                                const std::string& client_id, const connection_sink* sink);

}  // namespace mqhub::actors
