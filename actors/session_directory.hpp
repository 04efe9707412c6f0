#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/event_based_actor.hpp>

#include "actors/session_actor.hpp"
#include "actors/session_table.hpp"
#include "cluster/wire_types.hpp"

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
  /// Hands `request` to the session of `e`, started for it if there is none.
  void start_session(entry& e, connect_request& request);
  /// A new connection for a dormant session's client id: the old one is told and closed, and the will goes
  /// out (the session ends now, MQTT-3.1.4-3).
  void take_over_dormant(entry& e);
  /// Its client connected at another node: the session here ends or moves (see taken_over_elsewhere).
  void take_over_from(const take_over_from_elsewhere& taken);
  bool may_end(const session_end_request& request);
  void forget_failed(const caf::down_msg& down);
  caf::result<bool> restore(restore_sessions& restore);
  caf::result<bool> drain_sessions();
  /// A promise kept once every session has answered its message (or is gone).
  template <class Message>
  caf::result<bool> ask_every_session(std::vector<std::pair<caf::actor, Message>> asks);
  caf::actor spawn_session(const std::string& client_id);

  // Sessions moving here from another node (session_arrival.cpp).
  /// Whether `request` waits here for its session to come from another node: a CONNECT that resumes a
  /// session this node does not have, in a cluster. It waits until the session comes, the session locator
  /// says none comes, or handoff_wait_limit passes.
  bool wait_for_session(connect_request& request, bool new_here);
  /// Goes on with the CONNECT waiting for `client_id`'s session, with the session this node has (if any).
  void stop_waiting(const std::string& client_id);
  caf::result<bool> take_handoff(cluster::session_handoff& handoff);
  /// Stores a moved session (or its tail) and answers `promise` once it is in place.
  void store_handoff(cluster::session_handoff& handoff, caf::response_promise promise);
  void on_handoff_stored(const commit_result& result);
  /// The session of `client_id` is no longer moving out (ended, or staying).
  void moved_out(const std::string& client_id, bool stays);

  /// Client ids whose session here is moving to another node, each with the session that comes back here
  /// meanwhile (its client connected here again), which waits until the one that leaves is gone.
  struct coming_back {
    cluster::session_handoff handoff;
    caf::response_promise promise;
  };
  std::unordered_map<std::string, std::optional<coming_back>> moving_out_;

  struct waiting_connect {
    connect_request request;
    uint64_t wait_id = 0;
  };
  std::unordered_map<std::string, waiting_connect> waiting_;
  uint64_t last_wait_id_ = 0;
  /// A moved session (or the tail of one) whose rows are being committed here.
  struct handoff_commit {
    std::string client_id;
    caf::response_promise promise;
    std::shared_ptr<storage::recovered_session> state;  // null for a tail
    std::vector<delivery> tail;
  };
  std::unordered_map<uint64_t, handoff_commit> handoff_commits_;
  uint64_t last_commit_token_ = 0;

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
