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
uint64_t load_little_endian(const char* bytes) {
  uint64_t word = 0;
  std::memcpy(&word, bytes, 8);
  if constexpr (std::endian::native == std::endian::big)
    word = __builtin_bswap64(word);
  return word;
}

// The last bytes, fewer than eight, the same way. Byte by byte: a memcpy of a variable length is a library
// call, and its narrow stores stall the wide load that follows them.
uint64_t load_little_endian_tail(const char* bytes, size_t count) {
  uint64_t word = 0;
  for (size_t i = 0; i < count; ++i)
    word |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
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
    state = absorb(state, load_little_endian(bytes.data() + at));
  if (at < bytes.size())
    state = absorb(state, load_little_endian_tail(bytes.data() + at, bytes.size() - at));
  return finalize(state);
}

uint64_t mix(uint64_t a, uint64_t b) {
  return finalize(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

}  // namespace mqhub::cluster
