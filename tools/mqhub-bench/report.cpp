#include "tools/mqhub-bench/report.hpp"

#include <cstdio>
#include <string>

namespace mqhub::bench {

namespace {

const char* version_name(net::mqtt::protocol_version v) {
  return v == net::mqtt::protocol_version::v5 ? "5" : "3.1.1";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <class T>
std::string json_optional(const std::optional<T>& v) {
  if (!v)
    return "null";
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", *v);
    return buf;
  } else {
    return std::to_string(*v);
  }
}

/// [[latency_us, fraction], ...]: a compact CDF (a few dozen points) for plots.
std::string json_cdf(const std::vector<cdf_point>& points) {
  std::string out = "[";
  for (const auto& p : points) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s[%.1f, %.5f]", out.size() > 1 ? ", " : "",
                  static_cast<double>(p.ns) / 1e3, p.fraction);
    out += buf;
  }
  return out + "]";
}

}  // namespace

void print_table(const options& o, const run_result& r) {
  std::printf("%-22s %s\n", "scenario", to_string(o.kind));
  std::printf("%-22s %s over %s\n", "mqtt", version_name(o.version), to_string(o.transport));
  if (o.kind == scenario::connect_storm) {
    std::printf("%-22s %llu\n", "connections", static_cast<unsigned long long>(r.connections));
    std::printf("%-22s %.0f\n", "connections/s", r.connections_per_s);
    if (r.broker_rss_per_connection_kib)
      std::printf("%-22s %.2f\n", "broker KiB/connection", *r.broker_rss_per_connection_kib);
  } else {
    std::printf("%-22s %d\n", "qos", static_cast<int>(o.qos_level));
    std::printf("%-22s %u -> %u\n", "publishers -> subs", o.publishers, o.subscribers);
    std::printf("%-22s %u B, window %u, rate %s\n", "payload", o.payload, o.window,
                o.rate > 0 ? std::to_string(static_cast<uint64_t>(o.rate)).c_str() : "unbounded");
    std::printf("%-22s %llu (expected deliveries %llu)\n", "sent", static_cast<unsigned long long>(r.sent),
                static_cast<unsigned long long>(r.expected));
    std::printf("%-22s %llu\n", "delivered", static_cast<unsigned long long>(r.delivered));
    std::printf("%-22s %.0f (over %.2f s)\n", "delivered msgs/s", r.msgs_per_s, r.seconds);
    std::printf("%-22s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", "latency us", r.latency_us.p50,
                r.latency_us.p99, r.latency_us.p999, r.latency_us.max);
    std::printf("%-22s lost %llu  duplicated %llu  reordered %llu\n", "checks",
                static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicated),
                static_cast<unsigned long long>(r.reordered));
  }
  if (r.broker_cpu_pct)
    std::printf("%-22s %.1f %%\n", "broker cpu", *r.broker_cpu_pct);
  if (r.broker_rss_kib)
    std::printf("%-22s %llu KiB\n", "broker rss", static_cast<unsigned long long>(*r.broker_rss_kib));
  std::printf("%-22s %.1f %%\n", "bench cpu", r.bench_cpu_pct);
  if (!r.error.empty())
    std::printf("%-22s %s\n", "error", r.error.c_str());
}

void print_json(const options& o, const run_result& r) {
  std::printf(
      "{\"scenario\": \"%s\", \"transport\": \"%s\", \"qos\": %d, \"version\": \"%s\", \"publishers\": %u, "
      "\"subscribers\": %u, "
      "\"payload\": %u, \"window\": %u, \"rate\": %.0f, \"sent\": %llu, \"expected\": %llu, \"delivered\": "
      "%llu, "
      "\"seconds\": %.3f, \"msgs_per_s\": %.1f, "
      "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f}, "
      "\"latency_cdf_us\": %s, "
      "\"lost\": %llu, \"duplicated\": %llu, \"reordered\": %llu, "
      "\"broker_cpu_pct\": %s, \"broker_rss_kib\": %s, \"bench_cpu_pct\": %.1f, "
      "\"connections\": %llu, \"connections_per_s\": %.1f, \"broker_rss_per_connection_kib\": %s, "
      "\"error\": %s}\n",
      to_string(o.kind), to_string(o.transport), static_cast<int>(o.qos_level), version_name(o.version),
      o.publishers, o.subscribers, o.payload, o.window, o.rate, static_cast<unsigned long long>(r.sent),
      static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(r.delivered), r.seconds,
      r.msgs_per_s, r.latency_us.p50, r.latency_us.p99, r.latency_us.p999, r.latency_us.max,
      json_cdf(r.latency_cdf).c_str(), static_cast<unsigned long long>(r.lost),
      static_cast<unsigned long long>(r.duplicated), static_cast<unsigned long long>(r.reordered),
      json_optional(r.broker_cpu_pct).c_str(), json_optional(r.broker_rss_kib).c_str(), r.bench_cpu_pct,
      static_cast<unsigned long long>(r.connections), r.connections_per_s,
      json_optional(r.broker_rss_per_connection_kib).c_str(),
      r.error.empty() ? "null" : json_string(r.error).c_str());
}

}  // namespace mqhub::bench
