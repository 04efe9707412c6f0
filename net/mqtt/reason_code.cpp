#include "net/mqtt/reason_code.hpp"

namespace mqhub::net::mqtt {

uint8_t to_v311_connack_code(reason_code code) {
  switch (code) {
    case reason_code::success:
      return 0;
    case reason_code::unsupported_protocol_version:
      return 1;
    case reason_code::client_identifier_not_valid:
      return 2;
    case reason_code::bad_user_name_or_password:
      return 4;
    case reason_code::not_authorized:
    case reason_code::banned:
      return 5;
    default:
      // 3.1.1 has no finer word for the remaining refusals than "server unavailable".
      return 3;
  }
}

}  // namespace mqhub::net::mqtt
