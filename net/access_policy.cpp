#include "net/access_policy.hpp"

namespace mqhub::net {

namespace {

class open_client_access final : public client_access {
 public:
  bool may_publish(std::string_view topic) const override { return !topic.starts_with("$SYS"); }
  bool may_subscribe(std::string_view) const override { return true; }
};

class open_access_policy final : public access_policy {
 public:
  explicit open_access_policy(bool allow_anonymous) : allow_anonymous_(allow_anonymous) {}

  connect_decision authenticate(const net::mqtt::connect_packet& connect,
                                const peer_identity& peer) override {
    // A certificate the hub CA did not sign (or that expired) could only belong to a registered device by
    // fingerprint, and there is no device registry yet: such a client is refused rather than let in as
    // anonymous, since it meant to be someone.
    if (peer.certificate_presented && !peer.certificate_verified)
      return {net::mqtt::reason_code::not_authorized, nullptr};
    if (!allow_anonymous_ && !connect.username)
      return {net::mqtt::reason_code::not_authorized, nullptr};
    return {net::mqtt::reason_code::success, access_};
  }

 private:
  bool allow_anonymous_;
  std::shared_ptr<const client_access> access_ = std::make_shared<open_client_access>();
};

}  // namespace

std::shared_ptr<access_policy> make_open_access_policy(bool allow_anonymous) {
  return std::make_shared<open_access_policy>(allow_anonymous);
}

}  // namespace mqhub::net
