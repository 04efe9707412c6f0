#include "net/tls/openssl_error.hpp"

#include <system_error>

#include <openssl/err.h>

namespace mqhub::net::tls {

std::string openssl_error_text() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    std::string part;
    if (ERR_SYSTEM_ERROR(code)) {
      // OpenSSL keeps errno here and has no static text for it.
      part = std::generic_category().message(ERR_GET_REASON(code));
    } else if (const char* reason = ERR_reason_error_string(code); reason != nullptr) {
      part = reason;
    } else {
      part = "error " + std::to_string(ERR_GET_REASON(code));
    }
    // Each layer a failure passes through often stacks the same reason again.
    if (text.find(part) != std::string::npos)
      continue;
    if (!text.empty())
      text += ": ";
    text += part;
  }
  return text.empty() ? "unknown error" : text;
}

void clear_openssl_errors() {
  ERR_clear_error();
}

}  // namespace mqhub::net::tls
