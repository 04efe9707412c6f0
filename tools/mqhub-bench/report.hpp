#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/mqhub-bench/latency_histogram.hpp"
#include "tools/mqhub-bench/options.hpp"

namespace mqhub::bench {

struct latency_summary {
  double p50 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

/// The figures of one run, message scenarios and connect storm alike (the storm leaves the message
/// fields at zero and fills its own).
struct run_result {
  uint64_t sent = 0;
  uint64_t expected = 0;  // deliveries the subscriptions promise for what was sent
  uint64_t delivered = 0;
  double seconds = 0;  // the measured window
  double msgs_per_s = 0;
  latency_summary latency_us;
  std::vector<cdf_point> latency_cdf;  // for plots; empty for the connect storm
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  std::optional<double> broker_cpu_pct;
  std::optional<uint64_t> broker_rss_kib;
  double bench_cpu_pct = 0;
  // connect storm
  uint64_t connections = 0;
  double connections_per_s = 0;
  std::optional<double> broker_rss_per_connection_kib;
  std::string error;  // the first client failure, if any
};

void print_table(const options& o, const run_result& r);
void print_json(const options& o, const run_result& r);

}  // namespace mqhub::bench
