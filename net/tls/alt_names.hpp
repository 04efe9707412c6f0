#pragma once

#include <string>
#include <vector>

#include "net/tls/openssl_handles.hpp"

namespace mqhub::net::tls {

/// subjectAltName entries for `host_names`: an IPv4 or IPv6 literal (brackets allowed) becomes an IP
/// entry, any other name a DNS entry; repeats are dropped. Null, with `error` set, for a name that is
/// empty or holds a character a DNS name cannot (letters, digits, '-', '.', '_' and a '*' wildcard).
general_names_ptr make_alt_names(const std::vector<std::string>& host_names, std::string& error);

}  // namespace mqhub::net::tls
