#include "cluster/stable_hash.hpp"

namespace mqhub::cluster {

namespace {

constexpr uint64_t fnv_offset_basis = 0xcbf29ce484222325ULL;
constexpr uint64_t fnv_prime = 0x100000001b3ULL;

uint64_t finalize(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t stable_hash(std::string_view bytes) {
  uint64_t h = fnv_offset_basis;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  return finalize(h);
}

uint64_t mix(uint64_t a, uint64_t b) {
  return finalize(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

}  // namespace mqhub::cluster
