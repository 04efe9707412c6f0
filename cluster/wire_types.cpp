#include "cluster/wire_types.hpp"

namespace mqhub::cluster {

void register_wire_types(caf::actor_system_config& config) {
  config.add_message_type<member_info>("mqhub::cluster::member_info");
  config.add_message_type<std::vector<member_info>>("std::vector<mqhub::cluster::member_info>");
  config.add_message_type<message_batch>("mqhub::cluster::message_batch");
  config.add_message_type<publish_forward>("mqhub::cluster::publish_forward");
  config.add_message_type<delivery_forward>("mqhub::cluster::delivery_forward");
  config.add_message_type<forward_ack>("mqhub::cluster::forward_ack");
  config.add_message_type<retained_copies>("mqhub::cluster::retained_copies");
  config.add_message_type<client_arrival>("mqhub::cluster::client_arrival");
  config.add_message_type<client_taken_over>("mqhub::cluster::client_taken_over");
  config.add_message_type<session_handoff>("mqhub::cluster::session_handoff");
  config.add_message_type<no_session_to_move>("mqhub::cluster::no_session_to_move");
  config.add_message_type<restored_sessions>("mqhub::cluster::restored_sessions");
  config.add_message_type<route_update>("mqhub::cluster::route_update");
}

}  // namespace mqhub::cluster
