#include "net/node_services.hpp"

#include "actors/session_directory.hpp"

namespace mqhub::net {

size_t node_services::directory_index(std::string_view client_id) const {
  return actors::directory_index_of(client_id, directories.size());
}

}  // namespace mqhub::net
