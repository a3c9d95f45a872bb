// Time zones, in the config (a schedule's `timezone`) and in records (a
// source's `timezone` for zoneless times): any IANA name that the system's
// zone database holds (Europe/Berlin, America/New_York, Asia/Seoul), "UTC",
// a fixed offset ("+09:00", "-0500", "Z"), and the abbreviations KST and JST.
// Loaded by abseil's time library (cctz) from /usr/share/zoneinfo (Debian's
// tzdata; $TZDIR overrides), which caches each zone once loaded. Daylight
// saving time is honoured: "daily 09:00 Europe/Berlin" is 08:00 UTC in
// winter and 07:00 UTC in summer.
#pragma once

#include <absl/time/time.h>

#include <optional>
#include <string>
#include <string_view>

namespace ctk::cfg {

// The zone called `name`; nullopt and `why` when it is neither a known name
// nor an offset (a typo, or a machine without the zone database).
std::optional<absl::TimeZone> load_zone(std::string_view name, std::string& why);

// "+09:00", "+0900", "-05", "Z" → minutes east of UTC.
std::optional<int> parse_utc_offset(std::string_view z);

}  // namespace ctk::cfg
