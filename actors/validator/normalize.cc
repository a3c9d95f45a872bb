#include "actors/validator/normalize.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <libxml/HTMLparser.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <memory>

#include "config/zone.h"
#include "messages/text.h"

namespace ctk::validator {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly n digits at s[i].
bool digits(std::string_view s, std::size_t& i, int n, int& out) {
  if (i + static_cast<std::size_t>(n) > s.size()) return false;
  out = 0;
  for (int k = 0; k < n; ++k, ++i) {
    if (!is_digit(s[i])) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm.
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool valid_date(int y, int mo, int d, int h, int mi, int s) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= mdays[mo - 1] + (mo == 2 && leap);
}

std::int64_t to_ms(int y, int mo, int d, int h, int mi, int s, int ms, int offset_min) {
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + std::min(s, 59);
  return (secs - offset_min * 60) * 1000 + ms;
}

using cfg::parse_utc_offset;

std::optional<std::int64_t> parse_iso(std::string_view s, std::string_view zone, std::string& why) {
  std::size_t i = 0;
  int y, mo, d, h, mi, sec = 0, ms = 0;
  if (!digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !digits(s, i, 2, mo) || i >= s.size() || s[i++] != '-' ||
      !digits(s, i, 2, d))
    return std::nullopt;
  if (i == s.size()) {
    h = mi = 0;  // a date alone: midnight
  } else {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return std::nullopt;
    ++i;
    if (!digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, mi)) return std::nullopt;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, i, 2, sec)) return std::nullopt;
    }
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      ++i;
      int n = 0;
      while (i < s.size() && is_digit(s[i])) {
        if (n < 3) ms = ms * 10 + (s[i] - '0');
        ++n;
        ++i;
      }
      if (n == 0) return std::nullopt;
      for (; n < 3; ++n) ms *= 10;
    }
  }
  if (!valid_date(y, mo, d, h, mi, sec)) {
    why = "not a real date or time";
    return std::nullopt;
  }
  std::string_view rest = s.substr(i);
  if (rest.empty()) {
    if (zone.empty()) {
      why = "a time without a zone, and no `timezone` given for it";
      return std::nullopt;
    }
    const auto tz = cfg::load_zone(zone, why);
    if (!tz) return std::nullopt;
    const absl::Time t = absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, std::min(sec, 59)), *tz);
    return absl::ToUnixMillis(t) + ms;
  }
  const auto off = parse_utc_offset(rest);
  if (!off) return std::nullopt;
  return to_ms(y, mo, d, h, mi, sec, ms, *off);
}

std::optional<std::int64_t> parse_rfc822(std::string_view s, std::string& why) {
  // [Day, ]DD Mon YYYY HH:MM[:SS] ZONE
  std::size_t comma = s.find(',');
  if (comma != std::string_view::npos) s = text::trim(s.substr(comma + 1));
  std::size_t i = 0;
  int d = 0;
  if (i < s.size() && is_digit(s[i])) {
    d = s[i++] - '0';
    if (i < s.size() && is_digit(s[i])) d = d * 10 + (s[i++] - '0');
  } else {
    return std::nullopt;
  }
  if (i >= s.size() || s[i++] != ' ' || i + 3 > s.size()) return std::nullopt;
  static const char* months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  const std::string mon = text::lower(s.substr(i, 3));
  int mo = 0;
  for (int k = 0; k < 12; ++k)
    if (mon == months[k]) mo = k + 1;
  if (!mo) return std::nullopt;
  i += 3;
  if (i >= s.size() || s[i++] != ' ') return std::nullopt;
  int y = 0;
  std::size_t y0 = i;
  // At most 5 digits are read (more is refused below): a long run of digits
  // overflowed `int` (UBSan, found by fuzz/parsers_fuzz.cc).
  while (i < s.size() && is_digit(s[i]) && i - y0 < 5) y = y * 10 + (s[i++] - '0');
  if (i - y0 == 2)
    y += y < 50 ? 2000 : 1900;
  else if (i - y0 != 4)
    return std::nullopt;
  if (i >= s.size() || s[i++] != ' ') return std::nullopt;
  int h, mi, sec = 0;
  if (!digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, mi)) return std::nullopt;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!digits(s, i, 2, sec)) return std::nullopt;
  }
  std::string_view zone = text::trim(s.substr(i));
  std::optional<int> off = parse_utc_offset(zone);
  if (!off) {
    const std::string z = text::lower(zone);
    static const std::pair<const char*, int> named[] = {
        {"gmt", 0},       {"ut", 0},        {"utc", 0},       {"est", -5 * 60}, {"edt", -4 * 60}, {"cst", -6 * 60},
        {"cdt", -5 * 60}, {"mst", -7 * 60}, {"mdt", -6 * 60}, {"pst", -8 * 60}, {"pdt", -7 * 60}, {"kst", 9 * 60}};
    for (const auto& [n, o] : named)
      if (z == n) off = o;
  }
  if (!off) return std::nullopt;
  if (!valid_date(y, mo, d, h, mi, sec)) {
    why = "not a real date or time";
    return std::nullopt;
  }
  return to_ms(y, mo, d, h, mi, sec, 0, *off);
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(std::string_view text, std::string_view zone, std::string& why) {
  std::string_view s = text::trim(text);
  why.clear();
  if (s.empty()) {
    why = "empty time";
    return std::nullopt;
  }
  if (std::all_of(s.begin(), s.end(), is_digit) && s.size() <= 16) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.size() == 8) {  // yyyyMMdd is a date, not epoch seconds
      std::string iso =
          std::string(s.substr(0, 4)) + "-" + std::string(s.substr(4, 2)) + "-" + std::string(s.substr(6, 2));
      return parse_iso(iso, zone.empty() ? "UTC" : zone, why);
    }
    return v > 100'000'000'000 ? v : v * 1000;
  }
  if (s.size() >= 10 && is_digit(s[0]) && s[4] == '-') {
    if (auto t = parse_iso(s, zone, why)) return t;
  } else if (auto t = parse_rfc822(s, why)) {
    return t;
  }
  if (why.empty())
    why = "not a time in a known format (ISO-8601, epoch seconds or milliseconds, RFC 822): '" +
          std::string(s.substr(0, 64)) + "'";
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
  std::string_view s = text::trim(text);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::string> canonical_url(std::string_view url, std::string& why) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  const std::string in(text::trim(url));
  if (curl_url_set(u.get(), CURLUPART_URL, in.c_str(), 0) != CURLUE_OK) {
    why = "not a URL: '" + in.substr(0, 200) + "'";
    return std::nullopt;
  }
  auto part = [&](CURLUPart p, unsigned flags = 0) -> std::string {
    char* v = nullptr;
    if (curl_url_get(u.get(), p, &v, flags) != CURLUE_OK || !v) return {};
    std::string s(v);
    curl_free(v);
    return s;
  };
  const std::string scheme = text::lower(part(CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https") {
    why = "not an http(s) URL: '" + in.substr(0, 200) + "'";
    return std::nullopt;
  }
  std::string host = text::lower(part(CURLUPART_HOST));
  if (host.empty()) {
    why = "URL without a host";
    return std::nullopt;
  }
  std::string port = part(CURLUPART_PORT);
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port.clear();
  std::string path = part(CURLUPART_PATH);
  if (path.empty()) path = "/";
  std::string query = part(CURLUPART_QUERY), kept;
  for (std::size_t pos = 0; pos <= query.size() && !query.empty();) {
    std::size_t amp = query.find('&', pos);
    std::string_view param(query.data() + pos, (amp == std::string::npos ? query.size() : amp) - pos);
    const std::string name = text::lower(param.substr(0, param.find('=')));
    static const char* tracking[] = {"fbclid", "gclid",  "dclid", "msclkid", "mc_cid",
                                     "mc_eid", "igshid", "_ga",   "yclid"};
    bool drop = param.empty() || name.rfind("utm_", 0) == 0;
    for (const char* t : tracking) drop = drop || name == t;
    if (!drop) kept += (kept.empty() ? "" : "&") + std::string(param);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  std::string out = scheme + "://" + host + (port.empty() ? "" : ":" + port) + path;
  if (!kept.empty()) out += "?" + kept;
  return out;
}

void collapse_space_in_place(std::string& s) {
  // The write position never passes the read position: a run of white
  // space becomes at most one space.
  std::size_t w = 0;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = w > 0;
    } else {
      if (space) s[w++] = ' ';
      space = false;
      s[w++] = c;
    }
  }
  s.resize(w);
}

std::string collapse_space(std::string_view s) {
  std::string out(s);
  collapse_space_in_place(out);
  return out;
}

namespace {
void collect_text(xmlNode* n, std::string& out) {
  for (; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE) {
      const char* name = reinterpret_cast<const char*>(n->name);
      if (!std::strcmp(name, "script") || !std::strcmp(name, "style")) continue;
      static const char* blocks[] = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "tr", "td"};
      bool block = false;
      for (const char* b : blocks) block = block || !std::strcmp(name, b);
      if (block) out += ' ';
      collect_text(n->children, out);
      if (block) out += ' ';
    } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      if (n->content) out += reinterpret_cast<const char*>(n->content);
    }
  }
}
}  // namespace

std::string strip_html(std::string_view html) {
  if (html.find_first_of("<&") == std::string_view::npos) return collapse_space(html);
  // RECOVER for broken markup, NONET never fetches, HUGE lifts libxml2's
  // depth and size limits that otherwise cut big documents silently.
  // "&#" that starts no character reference (no digit, no x and hex digit
  // after it) is text in HTML; libxml2 drops it, so it is escaped first.
  std::string body;
  body.reserve(html.size());
  for (std::size_t i = 0; i < html.size(); ++i) {
    body += html[i];
    if (html[i] != '&' || i + 1 >= html.size() || html[i + 1] != '#') continue;
    const auto digit = [&](std::size_t k, bool hex) {
      return k < html.size() && (hex ? std::isxdigit(static_cast<unsigned char>(html[k]))
                                     : std::isdigit(static_cast<unsigned char>(html[k])));
    };
    const bool x = i + 2 < html.size() && (html[i + 2] == 'x' || html[i + 2] == 'X');
    if (!(x ? digit(i + 3, true) : digit(i + 2, false))) body += "amp;";
  }
  const std::string doc = "<html><body>" + body + "</body></html>";
  htmlDocPtr d = htmlReadMemory(doc.data(), static_cast<int>(doc.size()), nullptr, "UTF-8",
                                HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                    HTML_PARSE_NOBLANKS | XML_PARSE_HUGE);
  if (!d) return collapse_space(html);
  std::string text;
  collect_text(xmlDocGetRootElement(d), text);
  xmlFreeDoc(d);
  return collapse_space(text);
}

}  // namespace ctk::validator
