#include "cluster/stable_hash.hpp"

#include <bit>
#include <cstring>

namespace mqhub::cluster {

namespace {

uint64_t finalize(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Eight bytes as a little-endian number on every machine, so that nodes of either byte order agree.
uint64_t load_little_endian(const char* bytes, size_t count) {
  uint64_t word = 0;
  std::memcpy(&word, bytes, count);
  if constexpr (std::endian::native == std::endian::big)
    word = __builtin_bswap64(word) >> (8 * (8 - count));
  return word;
}

uint64_t absorb(uint64_t state, uint64_t word) {
  state = (state ^ word) * 0x9fb21c651e98df25ULL;
  return state ^ (state >> 29);
}

}  // namespace

uint64_t stable_hash(std::string_view bytes) {
  // A word at a time: it runs for every routed message, on topics of a few dozen bytes.
  uint64_t state = 0x9e3779b97f4a7c15ULL ^ bytes.size();
  size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8)
    state = absorb(state, load_little_endian(bytes.data() + at, 8));
  if (at < bytes.size())
    state = absorb(state, load_little_endian(bytes.data() + at, bytes.size() - at));
  return finalize(state);
}

uint64_t mix(uint64_t a, uint64_t b) {
  return finalize(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

}  // namespace mqhub::cluster
