// When a source fires (sources.yaml `schedule:`): `every: 2m`, `daily:
// "00:10"` in a time zone, or a 5-field cron expression in a time zone.
// Time zones are any IANA zone, UTC or an offset (config/zone.h), daylight
// saving time included.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

#include "config/settings.h"
#include "config/zone.h"

namespace ctk::scheduler {

class schedule {
 public:
  enum class kind { every, daily, cron };

  // nullopt (and `why`) when the settings hold no schedule or a bad one.
  static std::optional<schedule> parse(const cfg::schedule_settings& s, std::string& why);

  // The first firing strictly after `t_ms` (ms since the epoch). For
  // `every`, firings are anchored to the previous one: t + period.
  std::int64_t next_after(std::int64_t t_ms) const;
  kind type() const { return kind_; }
  std::string describe() const { return text_; }

 private:
  kind kind_ = kind::every;
  std::string text_;
  std::int64_t every_ms_ = 0;
  int daily_minute_ = 0;  // minutes after local midnight
  absl::TimeZone zone_;   // UTC unless set
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;
  std::bitset<13> month_;
  std::bitset<7> dow_;
  bool dom_any_ = true, dow_any_ = true;
};

}  // namespace ctk::scheduler
