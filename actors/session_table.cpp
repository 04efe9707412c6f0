#include "actors/session_table.hpp"

#include <utility>

namespace mqhub::actors {

dormant_session dormant_session::of(connect_request& request) {
  dormant_session d;
  d.sink = std::move(request.sink);
  if (request.will)
    d.will = std::make_unique<net::mqtt::will_message>(std::move(*request.will));
  d.maximum_packet_size = request.maximum_packet_size;
  d.receive_maximum = request.receive_maximum;
  d.version = request.version;
  d.request_problem_information = request.request_problem_information;
  return d;
}

connect_request dormant_session::wake(const std::string& client_id) {
  connect_request request;
  request.sink = std::move(sink);
  request.version = version;
  request.client_id = client_id;
  request.maximum_packet_size = maximum_packet_size;
  request.receive_maximum = receive_maximum;
  request.request_problem_information = request_problem_information;
  if (will)
    request.will = std::move(*will);
  request.connack_sent = true;
  return request;
}

std::optional<std::unique_ptr<net::mqtt::will_message>> session_table::forget_dormant(
    const std::string& client_id, const connection_sink* sink) {
  std::lock_guard guard{mutex};
  auto it = entries.find(client_id);
  if (it == entries.end() || it->second.dormant.sink.get() != sink)
    return std::nullopt;
  auto will = std::move(it->second.dormant.will);
  entries.erase(it);
  return will;
}

}  // namespace mqhub::actors
