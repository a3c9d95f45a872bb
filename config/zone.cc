#include "config/zone.h"

#include <cctype>

namespace ctk::cfg {

namespace {
bool two_digits(std::string_view s, std::size_t& i, int& out) {
  if (i + 2 > s.size() || !std::isdigit(static_cast<unsigned char>(s[i])) ||
      !std::isdigit(static_cast<unsigned char>(s[i + 1])))
    return false;
  out = (s[i] - '0') * 10 + (s[i + 1] - '0');
  i += 2;
  return true;
}
}  // namespace

std::optional<int> parse_utc_offset(std::string_view z) {
  if (z == "Z" || z == "z") return 0;
  if (z.size() < 3 || (z[0] != '+' && z[0] != '-')) return std::nullopt;
  std::size_t i = 1;
  int h = 0, m = 0;
  if (!two_digits(z, i, h)) return std::nullopt;
  if (i < z.size() && z[i] == ':') ++i;
  if (i < z.size() && !two_digits(z, i, m)) return std::nullopt;
  if (i != z.size() || h > 23 || m > 59) return std::nullopt;
  return (z[0] == '-' ? -1 : 1) * (h * 60 + m);
}

namespace {
std::optional<absl::TimeZone> load_uncached(std::string_view name, std::string& why) {
  if (auto off = parse_utc_offset(name)) return absl::FixedTimeZone(*off * 60);
  std::string n(name);
  if (n == "KST" || n == "kst") n = "Asia/Seoul";
  if (n == "JST" || n == "jst") n = "Asia/Tokyo";
  if (n == "utc" || n == "UTC" || n == "gmt" || n == "GMT") return absl::UTCTimeZone();
  absl::TimeZone tz;
  if (!n.empty() && absl::LoadTimeZone(n, &tz)) return tz;
  why = "unknown time zone '" + std::string(name) +
        "': give an IANA name from the zone database (Europe/Berlin, Asia/Seoul; is Debian's tzdata "
        "installed?), UTC or an offset such as +09:00";
  return std::nullopt;
}
}  // namespace

std::optional<absl::TimeZone> load_zone(std::string_view name, std::string& why) {
  // The validator asks once per zoneless record, nearly always for the same
  // zone: the last one is kept per thread (cctz's cache takes a lock).
  static thread_local std::string last_name;
  static thread_local absl::TimeZone last_zone;
  if (!last_name.empty() && name == last_name) return last_zone;
  auto zone = load_uncached(name, why);
  if (zone) {
    last_name = name;
    last_zone = *zone;
  }
  return zone;
}

}  // namespace ctk::cfg
