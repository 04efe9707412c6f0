#include <chrono>
#include <random>
#include <utility>

#include <caf/send.hpp>

#include "net/connection_base.hpp"
#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"

namespace mqhub::net {

namespace {

constexpr uint32_t never_expires = 0xFFFFFFFF;
constexpr uint32_t protocol_max_packet_size = 268435455;

std::string assigned_client_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "mqhub-";
  for (int i = 0; i < 16; ++i)
    id += hex[random() % 16];
  return id;
}

}  // namespace

void connection_base::refuse_connect(mqtt::protocol_version version, mqtt::reason_code code) {
  version_ = version;
  queue_own(mqtt::connack_packet{false, code, {}});
  finish(false, std::nullopt);
}

void connection_base::on_connect(uint8_t first_byte, std::span<const uint8_t> body) {
  if ((first_byte >> 4) != static_cast<uint8_t>(mqtt::packet_type::connect)) {
    finish(false, std::nullopt);  // the first packet must be CONNECT (MQTT-3.1.0-1): close, no CONNACK
    return;
  }
  auto decoded = mqtt::decode_connect(first_byte, body);
  if (!decoded) {
    auto version = mqtt::peek_connect_version(body);
    const auto& error = decoded.error();
    // A CONNACK only where the client can read it: every MQTT 5 refusal, and 3.1.1's "unacceptable
    // protocol version" (MQTT-3.1.2-2); other 3.1.1 errors just close (MQTT-4.8.0-1).
    if (version && (*version == mqtt::protocol_version::v5 ||
                    error.code == mqtt::reason_code::unsupported_protocol_version))
      refuse_connect(*version, error.code);
    else
      finish(false, std::nullopt);
    return;
  }
  auto& connect = *decoded;
  version_ = connect.version;
  bool v5 = version_ == mqtt::protocol_version::v5;

  if (connect.props.authentication_method) {
    refuse_connect(version_, mqtt::reason_code::bad_authentication_method);  // no enhanced auth yet
    return;
  }
  mqtt::connack_packet connack;
  if (connect.client_id.empty()) {
    // 3.1.1 assigns an id only to a clean session (MQTT-3.1.3-7, -8); MQTT 5 announces the one it assigns
    // (MQTT-3.2.2-16), and a session that should persist needs a client-chosen id.
    if (!connect.clean_start) {
      refuse_connect(version_, mqtt::reason_code::client_identifier_not_valid);
      return;
    }
    connect.client_id = assigned_client_id();
    if (v5)
      connack.props.assigned_client_identifier = connect.client_id;
  }
  auto decision = services_->access->authenticate(connect, *peer_);
  peer_.reset();
  if (mqtt::is_error(decision.code)) {
    refuse_connect(version_, decision.code);
    return;
  }
  access_ = std::move(decision.access);
  client_id_ = actors::prepaid_client_id(actors::shared_client_id(connect.client_id));

  const auto& limits = services_->limits;
  keep_alive_ = connect.keep_alive;
  if (limits.max_keepalive < 65535 && (keep_alive_ == 0 || keep_alive_ > limits.max_keepalive)) {
    keep_alive_ = limits.max_keepalive;
    if (v5)
      connack.props.server_keep_alive = keep_alive_;  // MQTT-3.2.2-21
  }
  if (v5) {
    if (limits.receive_maximum != 65535)
      connack.props.receive_maximum = limits.receive_maximum;
    if (limits.max_packet_size < protocol_max_packet_size)
      connack.props.maximum_packet_size = limits.max_packet_size;
    if (limits.topic_alias_maximum > 0)
      connack.props.topic_alias_maximum = limits.topic_alias_maximum;
  }

  actors::connect_request request;
  request.sink = shared_from_this();
  request.version = version_;
  request.client_id = connect.client_id;
  request.clean_start = connect.clean_start;
  if (v5)
    session_expiry_ = connect.props.session_expiry_interval.value_or(0);
  else
    session_expiry_ = connect.clean_start ? 0 : never_expires;
  request.session_expiry = session_expiry_;
  request.receive_maximum = connect.props.receive_maximum.value_or(65535);
  request.maximum_packet_size = connect.props.maximum_packet_size.value_or(0);
  client_maximum_packet_size_ = request.maximum_packet_size;
  // Our aliases towards the client, as many as it takes and at most as many as we take from it: the one
  // setting bounds what either direction keeps per connection.
  if (auto aliases =
          std::min<uint16_t>(connect.props.topic_alias_maximum.value_or(0), limits.topic_alias_maximum);
      v5 && aliases > 0) {
    extra().topic_aliases_out =
        std::make_unique<outbound_topic_aliases>(aliases, client_maximum_packet_size_);
    aliases_out_ = true;
  }
  request.request_problem_information = connect.props.request_problem_information.value_or(1) == 1;
  if (connect.will && !access_->may_publish(connect.will->topic))
    connect.will.reset();  // message filters apply to the will too
  request.will = std::move(connect.will);
  request.connack = std::move(connack);

  state_ = state::connecting;
  // A client with nothing to resume is answered here, without a message to its directory and back; the
  // CONNACK is queued before another connection can take the client id over, so it precedes the DISCONNECT.
  services_->session_table_of(client_id_)
      .connect(
          request, session_expiry_ == 0,
          [&] {
            std::string connack;
            mqtt::encode(request.connack, version_, connack);  // session present 0: there was none
            attach_dormant({std::make_shared<const std::string>(std::move(connack))});
          },
          [&](actors::connect_request& forwarded) {
            caf::anon_send(services_->directory_of(client_id_), std::move(forwarded));
          });
  if (services_->locator)
    caf::anon_send(services_->locator,
                   actors::client_connected{std::string(client_id_.view()),
                                            std::chrono::duration_cast<std::chrono::microseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count(),
                                            // A session that ends with this connection is not moved.
                                            !connect.clean_start && session_expiry_ != 0});
}

}  // namespace mqhub::net
