// Lexicon-and-rules sentiment for news (Korean and English), and the
// symbols a news item is about. The lexicons are data files a user edits
// (config/lexicons/, the npm AFINN list); this file only applies them.
//
// Rules: a word's weight is multiplied by 1.5 after an intensifier
// ("sharply", 대폭) and 0.5 after a softener ("slightly", 소폭), and by
// -0.75 when negated (English: not/no/never/...n't within the three words
// before; Korean: 안/못 before, or 않-/못하-/없- right after). Korean words
// are looked up after particles and endings are stripped (급등했다,
// 급등세, 급등에 → 급등). Title words count twice. The sum s becomes a
// score s / sqrt(s² + 15) in [-1, 1] (VADER's normalisation).
//
// Threading: a loaded scorer is read-only; score() may run on any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/settings.h"

namespace ctk::analyzer {

// A problem in a lexicon file, with its position (config check prints these).
struct lexicon_error {
  std::string file;
  int line = 0, column = 0;
  std::string what;
  std::string to_string() const;
};

struct sentiment_result {
  double score = 0;       // -1 .. 1
  std::string label;      // positive | neutral | negative
  double confidence = 0;  // 0 .. 1
  std::string language;   // ko | en
  std::int64_t hits = 0;  // lexicon words found
  std::vector<std::string> symbols;
};

class sentiment_scorer {
 public:
  struct files {
    std::string korean;         // word<TAB>weight
    std::string english_afinn;  // the npm package's index.js (`word: weight,` lines)
    std::string english_extra;  // word<TAB>weight, overrides AFINN
    std::string symbols;        // name<TAB>SYMBOL
  };
  // Loads every file; problems are appended to `errors` (the scorer is
  // usable only when none were added).
  static sentiment_scorer load(const files& f, double threshold, std::vector<lexicon_error>& errors);

  // keywords: the item's own tags (tickers like BTC count as symbols).
  // At most max_body_bytes of the body are read; the title always counts.
  sentiment_result score(std::string_view title, std::string_view body, const std::vector<std::string>& keywords,
                         std::size_t max_body_bytes) const;

  std::size_t korean_entries() const { return ko_.size(); }
  std::size_t english_entries() const { return en_.size(); }

  // Exposed for tests: a Korean word with its particles and endings removed,
  // as found in the lexicon ("" when no entry matches).
  std::string korean_stem(std::string_view word) const;

 private:
  struct word_hit {
    double weight;
    std::size_t length;  // tokens the entry spans (multi-word English entries)
  };
  std::optional<word_hit> english_at(const std::vector<std::string>& tokens, std::size_t i) const;
  std::optional<double> korean_weight(std::string_view token) const;
  void add_symbols(const std::vector<std::string>& tokens, std::vector<std::string>& out) const;
  // Symbols named by the record's keywords (a name, or a ticker tag).
  void add_keyword_symbols(const std::vector<std::string>& keywords, std::vector<std::string>& out) const;

  std::unordered_map<std::string, double> ko_, en_;
  std::unordered_map<std::string, std::string> symbols_;  // lower-case name -> SYMBOL
  std::size_t max_en_words_ = 1;                          // longest English entry, in words
  std::size_t max_sym_words_ = 1;                         // longest symbol name, in words
  double threshold_ = 0.1;
};

// Blends readers' votes into a lexicon result: the crowd's (up - down) /
// (up + down) gets a weight of up to 0.5, reached at 20 votes; the label
// follows the blended score. No votes: unchanged.
void blend_votes(sentiment_result& r, std::int64_t up, std::int64_t down, double threshold);

// Splits UTF-8 text into words: ASCII letters, digits, and non-ASCII
// letters (Hangul and other scripts); ASCII is lower-cased. Invalid UTF-8
// bytes and punctuation separate words.
std::vector<std::string> tokenize(std::string_view text);

// "ko" when at least 30 % of the letters are Hangul, else "en".
std::string detect_language(std::string_view text);

// The lexicon files the analyzer's settings name, paths relative to
// config_dir (lexicons.cc).
sentiment_scorer::files lexicon_files(const cfg::analyzer_settings& s, const std::string& config_dir);

}  // namespace ctk::analyzer
