#include "ir/philox.h"

namespace dlc {
namespace {

// Multipliers and Weyl key increments from Random123 (philox.h).
constexpr uint32_t kM0 = 0xD2511F53;
constexpr uint32_t kM1 = 0xCD9E8D57;
constexpr uint32_t kW0 = 0x9E3779B9;  // golden ratio
constexpr uint32_t kW1 = 0xBB67AE85;  // sqrt(3) - 1

PhiloxCounter round(const PhiloxCounter& c, const PhiloxKey& k) {
  uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
  uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
  auto hi = [](uint64_t p) { return static_cast<uint32_t>(p >> 32); };
  auto lo = [](uint64_t p) { return static_cast<uint32_t>(p); };
  return {hi(p1) ^ c[1] ^ k[0], lo(p1), hi(p0) ^ c[3] ^ k[1], lo(p0)};
}

}  // namespace

PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key) {
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      key[0] += kW0;
      key[1] += kW1;
    }
    counter = round(counter, key);
  }
  return counter;
}

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool dropout_keep(uint64_t seed, uint64_t node_key, uint64_t step, uint64_t index, float rate) {
  PhiloxCounter block = philox4x32_10(philox_counter(index / 4, step),
                                      philox_key(dropout_philox_key(seed, node_key)));
  return uniform_float(block[index % 4]) >= rate;
}

}  // namespace dlc
