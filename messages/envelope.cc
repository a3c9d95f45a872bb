#include "messages/envelope.h"

#include <simdjson.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace ctk::msg {

bool valid_source(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return s != "." && s != "..";
}

std::string record_id(std::string_view source, std::string_view natural_key) {
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  XXH3_128bits_update(&state, source.data(), source.size());
  const char sep = '\x1f';  // unit separator: "ab"+"c" and "a"+"bc" differ
  XXH3_128bits_update(&state, &sep, 1);
  XXH3_128bits_update(&state, natural_key.data(), natural_key.size());
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&state));
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = hex[c.digest[i] >> 4];
    out[2 * i + 1] = hex[c.digest[i] & 0xf];
  }
  return out;
}

std::string natural_key(const news_data& d) { return d.url.empty() ? "title:" + d.title : d.url; }
std::string natural_key(const market_data& d) { return d.symbol + '|' + d.timestamp; }
std::string natural_key(const fear_greed_data& d) { return d.timestamp; }

bool is_valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

std::string base64_encode(std::string_view bytes) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += tbl[n >> 18];
    out += tbl[(n >> 12) & 63];
    out += tbl[(n >> 6) & 63];
    out += tbl[n & 63];
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += tbl[n >> 18];
    out += tbl[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? tbl[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void dead_letter::set_original(std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    original = std::string(bytes);
    original_base64.reset();
  } else {
    original.reset();
    original_base64 = base64_encode(bytes);
  }
}

std::string format_utc_ms(std::int64_t ms) {
  // Twice per record: civil date by <chrono> (no gmtime_r and its time-zone
  // lock), digits written by hand (fmt's padded writes were 8 % of the
  // validator's time).
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{ms}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{t - day};
  const int y = static_cast<int>(ymd.year());
  if (y < 0 || y > 9999) {
    char buf[96];  // room for any int in each field
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", y, static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<long long>(tod.hours().count()),
                  static_cast<long long>(tod.minutes().count()), static_cast<long long>(tod.seconds().count()),
                  static_cast<long long>(tod.subseconds().count()));
    return buf;
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&](std::size_t at, long long v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10)
      out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
  };
  put(0, y, 4);
  put(5, static_cast<unsigned>(ymd.month()), 2);
  put(8, static_cast<unsigned>(ymd.day()), 2);
  put(11, tod.hours().count(), 2);
  put(14, tod.minutes().count(), 2);
  put(17, tod.seconds().count(), 2);
  put(20, tod.subseconds().count(), 3);
  return out;
}

std::int64_t utc_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string utc_now_iso() { return format_utc_ms(utc_now_ms()); }

}  // namespace ctk::msg
