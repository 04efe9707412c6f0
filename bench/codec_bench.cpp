// Decode and encode of the PUBLISH packets that dominate broker traffic, in both protocol versions.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>
#include <string>

#include "net/mqtt/decoder.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace {

using namespace mqhub::net::mqtt;

publish_packet sample_publish(size_t payload_size, protocol_version version) {
  publish_packet p{
      "devices/4711/telemetry", std::string(payload_size, 'x'), qos::at_least_once, false, false, 42, {}};
  if (version == protocol_version::v5) {
    p.props.message_expiry_interval = 60;
    p.props.user_properties = {{"unit", "celsius"}};
  }
  return p;
}

// Args: payload size, protocol level (4 or 5).
void bm_decode_publish(benchmark::State& state) {
  const auto version = static_cast<protocol_version>(state.range(1));
  std::string wire;
  encode(sample_publish(static_cast<size_t>(state.range(0)), version), version, wire);
  const std::span<const uint8_t> buffer(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
  for (auto _ : state) {
    const frame f = peek_frame(buffer, 0);
    auto p = decode_packet(f.first_byte, buffer.subspan(f.header_size, f.remaining_length), version);
    benchmark::DoNotOptimize(p);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}

void bm_encode_publish(benchmark::State& state) {
  const auto version = static_cast<protocol_version>(state.range(1));
  const packet p = sample_publish(static_cast<size_t>(state.range(0)), version);
  std::string out;
  for (auto _ : state) {
    out.clear();
    encode(p, version, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}

// The broker's fan-out path: only the head is encoded per layout, the payload is shared.
void bm_encode_publish_head(benchmark::State& state) {
  const auto version = static_cast<protocol_version>(state.range(1));
  const publish_packet p = sample_publish(static_cast<size_t>(state.range(0)), version);
  std::string out;
  for (auto _ : state) {
    out.clear();
    encode_publish_head(p, p.payload.size(), version, out);
    benchmark::DoNotOptimize(out.data());
  }
}

void publish_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t level : {4, 5}) {
    b->Args({16, level});
    b->Args({4096, level});
  }
}

BENCHMARK(bm_decode_publish)->Apply(publish_sizes);
BENCHMARK(bm_encode_publish)->Apply(publish_sizes);
BENCHMARK(bm_encode_publish_head)->Apply(publish_sizes);

}  // namespace
