#include "actors/scheduler/schedule.h"

#include <sstream>
#include <vector>

#include "config/zone.h"

namespace ctk::scheduler {

namespace {

constexpr std::int64_t day_ms = 86'400'000;

// One cron field ("*", "*/5", "1-5", "1,15,30", "10-50/10") into bits lo..hi.
template <std::size_t N>
bool cron_field(const std::string& f, int lo, int hi, std::bitset<N>& out, bool& any, std::string& why) {
  any = f == "*";
  std::stringstream parts(f);
  for (std::string part; std::getline(parts, part, ',');) {
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      try {
        step = std::stoi(part.substr(slash + 1));
      } catch (...) {
        step = 0;
      }
      part = part.substr(0, slash);
      if (step < 1) {
        why = "cron: bad step in '" + f + "'";
        return false;
      }
    }
    int a = lo, b = hi;
    if (part != "*") {
      try {
        auto dash = part.find('-');
        a = std::stoi(part.substr(0, dash));
        b = dash == std::string::npos ? a : std::stoi(part.substr(dash + 1));
      } catch (...) {
        why = "cron: '" + f + "' is not a number, range, list or step";
        return false;
      }
      if (part.find('-') == std::string::npos && f.find('/') != std::string::npos) b = hi;  // "5/10" = from 5
    }
    if (hi == 6 && a == 7 && b == 7) {  // Sunday is 0 or 7
      a = b = 0;
    } else if (hi == 6 && b == 7) {
      b = 6;
      out.set(0);
    }
    if (a < lo || b > hi || a > b) {
      why = "cron: '" + f + "' is outside " + std::to_string(lo) + ".." + std::to_string(hi);
      return false;
    }
    for (int v = a; v <= b; v += step) out.set(static_cast<std::size_t>(v));
  }
  return true;
}

}  // namespace

std::optional<schedule> schedule::parse(const cfg::schedule_settings& s, std::string& why) {
  schedule out;
  if (auto zone = cfg::load_zone(s.timezone, why)) {
    out.zone_ = *zone;
  } else {
    return std::nullopt;
  }
  if (!s.every.empty()) {
    if (s.every.ms < 1000) {
      why = "every: '" + s.every.text + "' must be a duration of at least 1s";
      return std::nullopt;
    }
    out.kind_ = kind::every;
    out.every_ms_ = s.every.ms;
    out.text_ = "every " + s.every.text;
    return out;
  }
  if (!s.daily.empty()) {
    int h = -1, m = -1;
    if (std::sscanf(s.daily.c_str(), "%d:%d", &h, &m) != 2 || h < 0 || h > 23 || m < 0 || m > 59) {
      why = "daily: '" + s.daily + "' is not HH:MM";
      return std::nullopt;
    }
    out.kind_ = kind::daily;
    out.daily_minute_ = h * 60 + m;
    out.text_ = "daily " + s.daily + " " + s.timezone;
    return out;
  }
  if (!s.cron.empty()) {
    std::stringstream in(s.cron);
    std::vector<std::string> f;
    for (std::string x; in >> x;) f.push_back(x);
    if (f.size() != 5) {
      why = "cron: '" + s.cron + "' needs 5 fields (minute hour day month weekday)";
      return std::nullopt;
    }
    bool any = false;
    if (!cron_field(f[0], 0, 59, out.minute_, any, why) || !cron_field(f[1], 0, 23, out.hour_, any, why) ||
        !cron_field(f[2], 1, 31, out.dom_, out.dom_any_, why) || !cron_field(f[3], 1, 12, out.month_, any, why) ||
        !cron_field(f[4], 0, 6, out.dow_, out.dow_any_, why))
      return std::nullopt;
    out.kind_ = kind::cron;
    out.text_ = "cron '" + s.cron + "' " + s.timezone;
    return out;
  }
  why = "no schedule (every, daily or cron)";
  return std::nullopt;
}

std::int64_t schedule::next_after(std::int64_t t_ms) const {
  const absl::Time t = absl::FromUnixMillis(t_ms);
  // A local time that the clocks skip (spring forward) fires at the moment
  // they jump (absl::FromCivil); one that repeats (fall back) fires at its
  // first pass.
  const auto fire = [&](absl::CivilMinute local) { return absl::FromCivil(local, zone_); };
  switch (kind_) {
    case kind::every:
      return t_ms + every_ms_;
    case kind::daily: {
      absl::CivilDay day(absl::ToCivilDay(t, zone_));
      for (int i = 0; i < 3; ++i, ++day) {
        const absl::Time at =
            fire(absl::CivilMinute(day.year(), day.month(), day.day(), daily_minute_ / 60, daily_minute_ % 60));
        if (at > t) return absl::ToUnixMillis(at);
      }
      break;
    }
    case kind::cron: {
      absl::CivilMinute local = absl::ToCivilMinute(t, zone_) + 1;
      for (int i = 0; i < 366 * 24 * 60; ++i, ++local) {
        if (!minute_[local.minute()] || !hour_[local.hour()] || !month_[local.month()]) continue;
        const int weekday = (static_cast<int>(absl::GetWeekday(absl::CivilDay(local))) + 1) % 7;  // 0 = Sunday
        const bool dom = dom_[local.day()], dow = dow_[weekday];
        // cron: with both day fields restricted, either may match.
        const bool day = dom_any_ ? dow : dow_any_ ? dom : (dom || dow);
        if (!day) continue;
        if (const absl::Time at = fire(local); at > t) return absl::ToUnixMillis(at);
      }
      return t_ms + 366 * day_ms;  // e.g. "0 0 30 2 *": never
    }
  }
  return t_ms + day_ms;
}

}  // namespace ctk::scheduler
