#include "net/tls/alt_names.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include <arpa/inet.h>

namespace mqhub::net::tls {

namespace {

bool is_dns_character(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' || c == '*';
}

// The address bytes of an IP literal (4 or 16), or none.
std::string ip_address_bytes(std::string name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    name = name.substr(1, name.size() - 2);
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, name.c_str(), bytes.data()) == 1)
    return {reinterpret_cast<const char*>(bytes.data()), 4};
  if (inet_pton(AF_INET6, name.c_str(), bytes.data()) == 1)
    return {reinterpret_cast<const char*>(bytes.data()), 16};
  return {};
}

general_name_ptr make_name(int type, int string_type, const std::string& value) {
  general_name_ptr name{GENERAL_NAME_new()};
  ASN1_STRING* text = ASN1_STRING_type_new(string_type);
  if (!name || text == nullptr || ASN1_STRING_set(text, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_STRING_free(text);
    return nullptr;
  }
  GENERAL_NAME_set0_value(name.get(), type, text);  // takes `text`
  return name;
}

}  // namespace

general_names_ptr make_alt_names(const std::vector<std::string>& host_names, std::string& error) {
  general_names_ptr names{GENERAL_NAMES_new()};
  if (!names) {
    error = "out of memory";
    return nullptr;
  }
  std::set<std::pair<int, std::string>> seen;
  for (const std::string& host : host_names) {
    std::pair<int, std::string> entry;
    if (std::string ip = ip_address_bytes(host); !ip.empty()) {
      entry = {GEN_IPADD, ip};
    } else if (!host.empty() && std::all_of(host.begin(), host.end(), is_dns_character)) {
      std::string lower = host;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      entry = {GEN_DNS, lower};
    } else {
      error = "host name '" + host + "' is neither an IP address nor a DNS name";
      return nullptr;
    }
    if (!seen.insert(entry).second)
      continue;
    general_name_ptr name = make_name(
        entry.first, entry.first == GEN_IPADD ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING, entry.second);
    if (!name || sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      error = "out of memory";
      return nullptr;
    }
    static_cast<void>(name.release());  // the stack owns it now
  }
  return names;
}

}  // namespace mqhub::net::tls
