#include "net/node_services.hpp"

#include <functional>

namespace mqhub::net {

size_t node_services::directory_index(std::string_view client_id) const {
  return std::hash<std::string_view>{}(client_id) % directories.size();
}

}  // namespace mqhub::net
