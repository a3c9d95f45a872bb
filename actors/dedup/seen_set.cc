#include "actors/dedup/seen_set.h"

#include <algorithm>
#include <vector>

namespace ctk::dedup {

std::optional<id128> parse_id(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  id128 id;
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    std::uint64_t v;
    if (c >= '0' && c <= '9')
      v = static_cast<std::uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v = static_cast<std::uint64_t>(c - 'a' + 10);
    else
      return std::nullopt;
    (i < 16 ? id.hi : id.lo) = ((i < 16 ? id.hi : id.lo) << 4) | v;
  }
  return id;
}

bool seen_set::contains(const id128& id, std::int64_t now_s) const {
  auto it = map_.find(id);
  return it != map_.end() && static_cast<std::int64_t>(it->second) > now_s;
}

std::size_t seen_set::insert(const id128& id, std::int64_t expires_s) {
  std::size_t evicted = 0;
  if (map_.size() >= max_ && !map_.contains(id)) evicted = make_room(expires_s - ttl_s_);
  auto& e = map_[id];
  e = std::max(e, static_cast<std::uint32_t>(expires_s));
  return evicted;
}

std::size_t seen_set::make_room(std::int64_t now_s) {
  const std::size_t before = map_.size();
  absl::erase_if(map_, [&](const auto& kv) { return static_cast<std::int64_t>(kv.second) <= now_s; });
  if (map_.size() >= max_) {
    // Still full of live ids: drop the tenth that would expire soonest.
    std::vector<std::uint32_t> exp;
    exp.reserve(map_.size());
    for (const auto& kv : map_) exp.push_back(kv.second);
    auto nth = exp.begin() + static_cast<long>(exp.size() / 10);
    std::nth_element(exp.begin(), nth, exp.end());
    const std::uint32_t cut = *nth;
    absl::erase_if(map_, [&](const auto& kv) { return kv.second <= cut; });
  }
  return before - map_.size();
}

}  // namespace ctk::dedup
