#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "net/mqtt/packet.hpp"

namespace mqhub::net {

/// Who is on the other end of a connection, as far as the transport knows.
struct peer_identity {
  std::string address;  // "ip:port"
  std::string network;  // "mqtt", "mqtts", "ws" or "wss": the listener the client came through
  bool tls = false;

  // A TLS client's certificate, when it presented one. The TLS layer accepts any certificate, so that one
  // matching a device's own certificate by fingerprint can get in; whether the hub CA signed it is recorded
  // here for the authentication hook to decide.
  bool certificate_presented = false;
  bool certificate_verified = false;    // chains to the hub CA, within its validity period
  std::string certificate_error;        // why it did not verify (OpenSSL's text), empty when it did
  std::string certificate_subject_cn;   // subject common name
  std::string certificate_fingerprint;  // SHA-256 of the DER certificate, lowercase hex
};

/// The decisions about one authenticated client on the hot path: cached on its connection so that a
/// PUBLISH or SUBSCRIBE never waits on an actor.
class client_access {
 public:
  virtual ~client_access() = default;
  virtual bool may_publish(std::string_view topic) const = 0;
  virtual bool may_subscribe(std::string_view filter) const = 0;
};

struct connect_decision {
  net::mqtt::reason_code code = net::mqtt::reason_code::success;  // an error refuses the CONNECT
  std::shared_ptr<const client_access> access;                    // set when accepted
};

/// Device authentication and message filters: the one hook a connection calls at CONNECT, and through
/// `client_access` at PUBLISH and SUBSCRIBE. The hub model fills it in; until then `open_access_policy`.
class access_policy {
 public:
  virtual ~access_policy() = default;
  virtual connect_decision authenticate(const net::mqtt::connect_packet& connect,
                                        const peer_identity& peer) = 0;
};

/// Lets every client in (or, with anonymous access off, every client that gives a user name) but those with
/// a TLS client certificate the CA did not verify, and lets it publish and subscribe anywhere but `$SYS`
/// publishing, which only the broker does.
std::shared_ptr<access_policy> make_open_access_policy(bool allow_anonymous);

}  // namespace mqhub::net
