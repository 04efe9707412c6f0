#include "net/node_services.hpp"

#include <functional>

namespace mqhub::net {

const caf::actor& node_services::directory_of(std::string_view client_id) const {
  return directories[std::hash<std::string_view>{}(client_id) % directories.size()];
}

}  // namespace mqhub::net
