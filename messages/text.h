// The few text helpers every layer needs, once: ASCII case folding and
// whitespace trimming. (Debian's Abseil has them, but its absl::string_view
// is not std::string_view, so it does not take ours.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ctk::text {

// ASCII letters lower-cased; every other byte (UTF-8 included) kept.
std::string lower(std::string_view s);
// Without leading and trailing ASCII whitespace (space, \t, \r, \n, \v, \f).
std::string_view trim(std::string_view s);
// The candidate closest to `word` within two edits (Levenshtein), or "" —
// for "did you mean" on a typo.
std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates);
// `s` with every byte that is not part of a well-formed UTF-8 sequence
// (stray continuation bytes, truncated or overlong sequences, surrogates,
// beyond U+10FFFF) replaced by U+FFFD, as a browser shows a broken page.
std::string valid_utf8(std::string_view s);

}  // namespace ctk::text
