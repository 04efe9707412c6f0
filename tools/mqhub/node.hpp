#pragma once

#include "tools/mqhub/node_options.hpp"

namespace mqhub::node {

/// Runs a node until SIGTERM or SIGINT; returns the process exit code.
int run_node(const node_options& options);

}  // namespace mqhub::node
