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

  connect_decision authenticate(const net::mqtt::connect_packet& connect, const peer_identity&) override {
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
