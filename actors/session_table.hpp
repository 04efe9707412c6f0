#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>

#include "actors/connection_sink.hpp"
#include "actors/messages.hpp"
#include "net/mqtt/packet.hpp"

namespace mqhub::actors {

/// A session with nothing in it yet, kept without an actor (see session_directory): what it starts from
/// when woken.
struct dormant_session {
  connection_sink_ptr sink;  // null unless dormant
  std::unique_ptr<net::mqtt::will_message> will;
  uint32_t maximum_packet_size = 0;
  uint16_t receive_maximum = 65535;
  net::mqtt::protocol_version version = net::mqtt::protocol_version::v311;
  bool request_problem_information = true;

  /// Takes the sink and the will of `request`.
  static dormant_session of(connect_request& request);
  /// The request that starts the session's actor (its CONNACK was sent).
  connect_request wake(const std::string& client_id);
};

/// The client ids of one session directory, shared with their connections. A connection registers a client
/// that has nothing to resume and forgets one that leaves while dormant, on its own thread under the mutex:
/// the most common clients then cost the directory no message at all, even in a connect storm. The
/// directory actor does everything else under the same mutex.
struct session_table {
  struct entry {
    caf::actor session;  // null while dormant
    uint64_t attach_count = 0;
    dormant_session dormant;
  };

  std::mutex mutex;
  std::unordered_map<std::string, entry> entries;
  /// CONNECTs sent to the directory actor and not yet handled by it: while there are any, connections
  /// answer none themselves, so that no CONNECT overtakes one sent before it (a later client would be taken
  /// over by an earlier one).
  size_t connects_in_flight = 0;

  /// Either registers the client of `request` as dormant and calls `acknowledge()` before anyone else can
  /// see it (e.g. take it over): when `may_be_dormant`, the table has nothing for the client id and no
  /// CONNECT waits for the directory. Or calls `forward(request)`, which sends it to the directory actor.
  template <class Acknowledge, class Forward>
  void connect(connect_request& request, bool may_be_dormant, Acknowledge&& acknowledge, Forward&& forward) {
    std::lock_guard guard{mutex};
    if (may_be_dormant && connects_in_flight == 0) {
      auto [it, inserted] = entries.try_emplace(request.client_id);
      if (inserted) {
        it->second.dormant = dormant_session::of(request);
        acknowledge();
        return;
      }
    }
    ++connects_in_flight;
    forward(request);
  }

  /// Forgets the dormant session of `sink`'s client and returns its will (null when it has none); nullopt
  /// when the session is no longer dormant there (taken over, or woken: the will went elsewhere).
  std::optional<std::unique_ptr<net::mqtt::will_message>> forget_dormant(const std::string& client_id,
                                                                         const connection_sink* sink);
};

}  // namespace mqhub::actors
