// Normalisation of raw record fields: every timestamp to UTC
// ISO-8601, numbers from strings, symbols upper-case, URLs canonicalised,
// HTML stripped from text. Pure functions, errors as values: each returns
// std::nullopt and sets `why` when the input cannot be normalised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "messages/envelope.h"

namespace ctk::validator {

// Milliseconds since the Unix epoch → "2026-11-23T11:00:00.123Z" (one
// implementation, in messages/).
using msg::format_utc_ms;

// Parses the five time formats the sources use:
//   ISO-8601 with Z or an offset        2025-01-01T03:04:05.000Z, 2022-04-25T16:04:09.254000+00:00
//   zoneless ISO-8601 + a zone          2024-08-31T22:25:00 with zone "Asia/Seoul" (any IANA zone, "UTC", "+09:00":
//   config/zone.h) epoch milliseconds                  1725543306000 epoch seconds (often as a string)   "1777248000"
//   RFC 822 / 1123                      Mon, 01 Jan 2025 03:04:05 +0000 (GMT, UT, EST... too)
// Epoch values above 10^11 are milliseconds, below are seconds.
// Returns milliseconds since the epoch.
std::optional<std::int64_t> parse_time_ms(std::string_view text, std::string_view zone, std::string& why);

// A finite decimal number from text ("12.5", " 1e3 "); no NaN, no infinity.
std::optional<double> parse_number(std::string_view text);

// Canonical URL: scheme and host lower-case, default port dropped, fragment
// dropped, tracking parameters (utm_*, fbclid, gclid, ...) dropped, empty
// path → "/". Only http and https.
std::optional<std::string> canonical_url(std::string_view url, std::string& why);

// Visible text of an HTML fragment (entities decoded, script/style dropped),
// whitespace collapsed, trimmed. Plain text passes through unchanged but trimmed.
std::string strip_html(std::string_view html);

// Trims and collapses runs of white space to one space.
std::string collapse_space(std::string_view s);
void collapse_space_in_place(std::string& s);

}  // namespace ctk::validator
