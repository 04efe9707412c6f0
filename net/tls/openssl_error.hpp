#pragma once

#include <string>

namespace mqhub::net::tls {

/// OpenSSL's reasons for the last failure on this thread, oldest (the root cause) first, and clears its
/// error queue so the next call starts clean. "unknown error" when the queue is empty.
std::string openssl_error_text();

/// Empties this thread's OpenSSL error queue (before a call whose failure is to be reported).
void clear_openssl_errors();

}  // namespace mqhub::net::tls
