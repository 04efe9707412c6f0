#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/event_based_actor.hpp>

#include "actors/session_actor.hpp"

namespace mqhub::actors {

/// Client id → session actor for a slice of the client ids (DESIGN §3). It spawns sessions, hands them
/// their connections and decides, without races, when a session may end.
///
/// A session that holds nothing gets no actor until it does: a clean one that ends with its connection
/// (expiry 0), before its client sends a packet that needs one (SUBSCRIBE, UNSUBSCRIBE, a QoS 2 PUBLISH, an
/// acknowledgement). The directory answers its CONNECT and keeps what the session would start from; QoS 0
/// and 1 PUBLISHes and PINGREQs go on without it. Such a dormant session costs its entry here, not the
/// actor's 1.6 KiB, which were most of what an idle client cost (issue 5, RSS per idle connection).
class session_directory : public caf::event_based_actor {
 public:
  session_directory(caf::actor_config& cfg, std::shared_ptr<const session_context> context);

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  /// What a dormant session starts from when woken.
  struct dormant_session {
    connection_sink_ptr sink;  // null unless dormant
    std::unique_ptr<net::mqtt::will_message> will;
    uint32_t maximum_packet_size = 0;
    uint16_t receive_maximum = 65535;
    net::mqtt::protocol_version version = net::mqtt::protocol_version::v311;
    bool request_problem_information = true;
  };
  struct entry {
    caf::actor session;  // null while dormant
    uint64_t attach_count = 0;
    dormant_session dormant;
  };

  void connect(connect_request& request);
  void make_dormant(entry& e, connect_request& request);
  /// A new connection for a dormant session's client id: the old one is told and closed, and the will goes
  /// out (the session ends now, MQTT-3.1.4-3).
  void take_over_dormant(entry& e, const std::string& client_id);
  void wake(const wake_session& wake);
  void on_dormant_closed(dormant_connection_closed& closed);
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
