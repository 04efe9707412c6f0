#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tools/mqhub/node.hpp"
#include "tools/mqhub/node_options.hpp"

int main(int argc, char** argv) {
  mqhub::node::node_options options;
  if (int code = mqhub::node::parse_options(argc, argv, options); code >= 0)
    return code;
  // Logs go to stderr; stdout carries only the readiness lines that scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mqhub"));
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  return mqhub::node::run_node(options);
}
