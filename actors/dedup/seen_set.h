// The ids one dedup instance has seen on one input partition, with a TTL,
// in a flat hash map (abseil): 16-byte id + 4-byte expiry per slot, about
// 50 MB per million ids at the table's worst load (measured in
// benchmarks/RESULTS.md). Bounded by max_ids: when full, expired ids go
// first, then the tenth that expires soonest (counted, and logged).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace ctk::dedup {

struct id128 {
  std::uint64_t hi = 0, lo = 0;
  bool operator==(const id128&) const = default;
};

// 32 hex characters → id; nullopt for anything else.
std::optional<id128> parse_id(std::string_view hex);

struct id_hash {
  std::size_t operator()(const id128& id) const {
    return static_cast<std::size_t>(id.lo ^ (id.hi * 0x9e3779b97f4a7c15ULL));
  }
};

class seen_set {
 public:
  seen_set(std::size_t max_ids, std::int64_t ttl_ms) : max_(max_ids), ttl_s_(ttl_ms / 1000) {}

  // True when `id` was seen and has not expired at `now_s` (seconds since epoch).
  bool contains(const id128& id, std::int64_t now_s) const;
  // Remembers `id` until `expires_s`; returns how many ids were evicted to make room.
  std::size_t insert(const id128& id, std::int64_t expires_s);
  std::int64_t ttl_s() const { return ttl_s_; }
  std::size_t size() const { return map_.size(); }
  // Bytes held by the table (slots + control bytes).
  std::size_t memory_bytes() const { return map_.capacity() * (sizeof(std::pair<id128, std::uint32_t>) + 1); }
  void reserve(std::size_t n) { map_.reserve(n); }

 private:
  std::size_t make_room(std::int64_t now_s);

  std::size_t max_;
  std::int64_t ttl_s_;
  absl::flat_hash_map<id128, std::uint32_t, id_hash> map_;  // expiry in seconds since epoch
};

}  // namespace ctk::dedup
