#include "actors/analyzer/sentiment.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "messages/text.h"

namespace ctk::analyzer {

namespace {

// One code point at s[i]: its value and byte length (-1 and 1 when invalid).
std::pair<int, std::size_t> next_cp(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, 1};
  std::size_t n = b >= 0xF0 && b < 0xF8 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return {-1, 1};
  int cp = b & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return {-1, 1};
    cp = (cp << 6) | (c & 0x3F);
  }
  return {cp, n};
}

bool is_hangul(int cp) { return (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x3131 && cp <= 0x318E); }

// Letters of any script; punctuation, symbols and emoji separate words.
bool is_word_cp(int cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return std::isalnum(cp) != 0;
  if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7) return false;  // Latin-1 punctuation and symbols
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;            // general punctuation, arrows, symbols
  if (cp >= 0x3000 && cp <= 0x303F) return false;            // CJK punctuation
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;            // full-width punctuation
  if (cp >= 0xFF1A && cp <= 0xFF20) return false;
  if (cp >= 0x1F000) return false;  // emoji and pictographs
  return true;
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::size_t syllables(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    auto [cp, len] = next_cp(s, i);
    n += is_hangul(cp) ? 1 : 0;
    i += len;
  }
  return n;
}

// Korean particles and verb endings, stripped (in any chain) before lookup.
const std::vector<std::string_view>& korean_suffixes() {
  static const std::vector<std::string_view> s = [] {
    std::vector<std::string_view> v{
        "했다는", "했다고", "했으며", "했지만", "하면서", "했다", "했고", "했던", "하며", "하고", "하는", "하다",
        "한다",   "하여",   "해서",   "하자",   "하지",   "하면", "해",   "한",   "할",   "함",   "했",   "됐다",
        "되며",   "되고",   "되는",   "된다",   "되자",   "됨",   "된",   "될",   "되",   "됐",   "시켜", "시킨",
        "이다",   "였다",   "였던",   "으로",   "에서",   "에게", "에도", "에는", "까지", "부터", "보다", "로",
        "에",     "은",     "는",     "이",     "가",     "을",   "를",   "의",   "도",   "만",   "과",   "와",
        "세",     "적",     "적인",   "적으로", "중",     "권",   "폭",   "째",   "설",   "감",   "들"};
    std::sort(v.begin(), v.end(), [](auto a, auto b) { return a.size() > b.size(); });
    return v;
  }();
  return s;
}

// Neutral tails of Korean compounds (상승마감, 하락출발, 약세지속).
const std::set<std::string_view>& korean_tails() {
  static const std::set<std::string_view> t{"마감", "출발", "지속",   "조짐", "흐름", "국면", "추세",
                                            "압력", "신호", "가능성", "전망", "행진", "물량", "우려"};
  return t;
}

// Byte offsets where a UTF-8 character starts, plus the end.
std::vector<std::size_t> char_boundaries(std::string_view s) {
  std::vector<std::size_t> v;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) v.push_back(i);
  v.push_back(s.size());
  return v;
}

bool strippable(std::string_view rest, int depth = 0) {
  if (rest.empty()) return true;
  if (depth > 4) return false;
  for (auto s : korean_suffixes())
    if (rest.starts_with(s) && strippable(rest.substr(s.size()), depth + 1)) return true;
  if (korean_tails().count(rest)) return true;
  return false;
}

const std::set<std::string_view>& en_negators() {
  static const std::set<std::string_view> s{"not", "no",      "never",  "none",   "nobody", "nothing", "neither",
                                            "nor", "without", "hardly", "cannot", "fails",  "failed",  "fail"};
  return s;
}
const std::set<std::string_view>& en_intensifiers() {
  static const std::set<std::string_view> s{"very",      "extremely", "highly",       "sharply",       "massive",
                                            "massively", "hugely",    "strongly",     "significantly", "deeply",
                                            "heavily",   "steeply",   "dramatically", "biggest"};
  return s;
}
const std::set<std::string_view>& en_softeners() {
  static const std::set<std::string_view> s{"slightly", "somewhat", "marginally", "modestly", "mildly", "partly"};
  return s;
}
const std::set<std::string_view>& ko_intensifiers() {
  static const std::set<std::string_view> s{"대폭", "크게", "급격히", "매우", "아주", "폭발적", "폭발적으로", "대규모"};
  return s;
}
const std::set<std::string_view>& ko_softeners() {
  static const std::set<std::string_view> s{"소폭", "다소", "약간", "조금", "소량", "일부"};
  return s;
}

bool en_negated(std::string_view t) { return en_negators().count(t) || (t.size() > 3 && t.ends_with("n't")); }

bool ko_negation_after(std::string_view t) {
  for (std::string_view p : {"않", "못하", "못한", "못했", "없"})
    if (t.starts_with(p)) return true;
  return false;
}

// Reads `word<TAB>value` lines; `add` gets the key (ASCII lower-cased,
// words joined by one space) and the value text, and says what is wrong
// with the value ("" when fine).
void read_tsv(const std::string& path, std::vector<lexicon_error>& errors,
              const std::function<std::string(const std::string&, const std::string&)>& add) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back(
        {path, 0, 0,
         "cannot be read (deploy/setup.sh installs the lexicons; the path is relative to the config folder)"});
    return;
  }
  std::map<std::string, int> first_line;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // a BOM some editors write
    const std::string t(text::trim(line));
    if (t.empty() || t[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      errors.push_back({path, n, 1, "expected word<TAB>value"});
      continue;
    }
    std::string key;
    for (std::istringstream words(text::lower(text::trim(line.substr(0, tab)))); words >> std::ws && !words.eof();) {
      std::string w;
      words >> w;
      key += (key.empty() ? "" : " ") + w;
    }
    if (key.empty()) {
      errors.push_back({path, n, 1, "empty word"});
      continue;
    }
    if (auto [it, fresh] = first_line.emplace(key, n); !fresh) {
      errors.push_back(
          {path, n, 1, "'" + key + "' is listed twice (first at line " + std::to_string(it->second) + ")"});
      continue;
    }
    if (auto why = add(key, std::string(text::trim(line.substr(tab + 1)))); !why.empty())
      errors.push_back({path, n, static_cast<int>(char_boundaries(line.substr(0, tab)).size()) + 1, why});
  }
}

std::string parse_weight(const std::string& text, double& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(out))
    return "weight '" + text + "' is not a number";
  if (out < -5 || out > 5) return "weight " + text + " is outside -5 .. 5";
  return {};
}

// The npm package's index.js: `  word: -2,` or `  'two words': 3,` per line.
void read_afinn_js(const std::string& path, std::unordered_map<std::string, double>& out,
                   std::vector<lexicon_error>& errors) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back({path, 0, 0,
                      "cannot be read: deploy/setup.sh installs it (npm package afinn-165-financialmarketnews); the "
                      "path is relative to the config folder"});
    return;
  }
  std::string line;
  std::size_t added = 0;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string t(text::trim(line));
    if (t.empty() || t.starts_with("//") || t.starts_with("*") || t.starts_with("/*")) continue;
    std::string key;
    std::size_t at = 0;
    if (t[0] == '\'' || t[0] == '"') {
      const char q = t[0];
      std::size_t i = 1;
      for (; i < t.size() && t[i] != q; ++i) {
        if (t[i] == '\\' && i + 1 < t.size()) ++i;
        key += t[i];
      }
      at = i + 1;
    } else {
      const auto colon = t.find(':');
      if (colon == std::string::npos) continue;
      key = t.substr(0, colon);
      at = colon;
      if (key.find_first_of(" =({}") != std::string::npos) continue;  // `const x = {` and the like
    }
    if (at >= t.size() || t[at] != ':') continue;
    std::string num = t.substr(at + 1);
    if (auto comment = num.find("//"); comment != std::string::npos) num.erase(comment);
    num = std::string(text::trim(num));
    if (!num.empty() && num.back() == ',') num.pop_back();
    double w = 0;
    if (auto why = parse_weight(num, w); !why.empty()) {
      errors.push_back({path, n, static_cast<int>(at) + 2, why});
      continue;
    }
    out[text::lower(key)] = w;
    ++added;
  }
  if (added < 1000)
    errors.push_back({path, 0, 0, "only " + std::to_string(added) + " entries: not the AFINN-165 index.js?"});
}

// What the words around a Korean hit do to it: 안/못 before, or a
// negation after, turn it (×-0.75); an intensifier or softener before
// scales it.
double korean_modifier(const std::vector<std::string>& tokens, std::size_t i) {
  double mod = 1;
  if (i > 0) {
    const std::string& prev = tokens[i - 1];
    if (prev == "안" || prev == "못")
      mod *= -0.75;
    else if (ko_intensifiers().count(prev))
      mod *= 1.5;
    else if (ko_softeners().count(prev))
      mod *= 0.5;
  }
  if (i + 1 < tokens.size() && ko_negation_after(tokens[i + 1])) mod *= -0.75;
  return mod;
}

// The same for an English hit of `span` tokens at i: a negator up to three
// words before turns it; an intensifier or softener right before or right
// after ("surges sharply", "falls slightly") scales it.
double english_modifier(const std::vector<std::string>& tokens, std::size_t i, std::size_t span) {
  double mod = 1;
  for (std::size_t back = 1; back <= 3 && back <= i; ++back) {
    const std::string& prev = tokens[i - back];
    if (en_negated(prev)) {
      mod *= -0.75;
      break;
    }
    if (back == 1 && en_intensifiers().count(prev)) mod *= 1.5;
    if (back == 1 && en_softeners().count(prev)) mod *= 0.5;
  }
  if (const std::size_t next = i + span; next < tokens.size()) {
    if (en_intensifiers().count(tokens[next]))
      mod *= 1.5;
    else if (en_softeners().count(tokens[next]))
      mod *= 0.5;
  }
  return mod;
}

}  // namespace

std::string lexicon_error::to_string() const {
  if (line == 0) return file + ": " + what;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what;
}

void blend_votes(sentiment_result& r, std::int64_t up, std::int64_t down, double threshold) {
  if (up < 0 || down < 0 || up + down == 0) return;
  const double n = static_cast<double>(up + down);
  const double crowd = static_cast<double>(up - down) / n;
  const double w = 0.5 * std::min(1.0, n / 20.0);
  r.score = (1 - w) * r.score + w * crowd;
  r.label = r.score >= threshold ? "positive" : r.score <= -threshold ? "negative" : "neutral";
  r.confidence = std::min(1.0, std::max(r.confidence, std::abs(r.score) * w * 2));
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    while (!cur.empty() && (cur.back() == '\'' || cur.back() == '-')) cur.pop_back();
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  };
  for (std::size_t i = 0; i < text.size();) {
    auto [cp, len] = next_cp(text, i);
    if (is_word_cp(cp)) {
      if (cp < 0x80)
        cur += static_cast<char>(std::tolower(cp));
      else
        cur.append(text.substr(i, len));
    } else if ((cp == '\'' || cp == 0x2019 || cp == '-') && !cur.empty()) {
      cur += cp == '-' ? '-' : '\'';  // inside words: doesn't, all-time
    } else {
      flush();
    }
    i += len;
  }
  flush();
  return out;
}

std::string detect_language(std::string_view text) {
  std::size_t hangul = 0, letters = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto [cp, len] = next_cp(text, i);
    if (is_hangul(cp)) {
      ++hangul;
      ++letters;
    } else if (cp >= 0 && cp < 0x80 && std::isalpha(cp)) {
      ++letters;
    }
    i += len;
  }
  return letters > 0 && hangul * 10 >= letters * 3 ? "ko" : "en";
}

sentiment_scorer sentiment_scorer::load(const files& f, double threshold, std::vector<lexicon_error>& errors) {
  sentiment_scorer s;
  s.threshold_ = threshold;
  read_tsv(f.korean, errors, [&](const std::string& k, const std::string& v) {
    double w = 0;
    auto why = parse_weight(v, w);
    if (why.empty()) s.ko_[k] = w;
    return why;
  });
  if (s.ko_.empty() && errors.empty()) errors.push_back({f.korean, 0, 0, "no entries"});
  read_afinn_js(f.english_afinn, s.en_, errors);
  read_tsv(f.english_extra, errors, [&](const std::string& k, const std::string& v) {
    double w = 0;
    auto why = parse_weight(v, w);
    if (why.empty()) s.en_[k] = w;
    return why;
  });
  read_tsv(f.symbols, errors, [&](const std::string& k, const std::string& v) -> std::string {
    if (v.empty() || v.size() > 10 || !std::all_of(v.begin(), v.end(), [](char c) {
          return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
        }))
      return "symbol '" + v + "' is not 1-10 upper-case letters or digits";
    s.symbols_[k] = v;
    return {};
  });
  for (const auto& [k, v] : s.en_)
    s.max_en_words_ = std::max<std::size_t>(s.max_en_words_, 1 + std::count(k.begin(), k.end(), ' '));
  for (const auto& [k, v] : s.symbols_)
    s.max_sym_words_ = std::max<std::size_t>(s.max_sym_words_, 1 + std::count(k.begin(), k.end(), ' '));
  return s;
}

std::optional<sentiment_scorer::word_hit> sentiment_scorer::english_at(const std::vector<std::string>& tokens,
                                                                       std::size_t i) const {
  std::string key;
  std::optional<word_hit> best;
  for (std::size_t n = 1; n <= max_en_words_ && i + n <= tokens.size(); ++n) {
    if (has_non_ascii(tokens[i + n - 1])) break;
    key += (n > 1 ? " " : "") + tokens[i + n - 1];
    if (auto it = en_.find(key); it != en_.end()) best = word_hit{it->second, n};
  }
  return best;
}

std::string sentiment_scorer::korean_stem(std::string_view word) const {
  const std::string w(word);
  if (ko_.count(w)) return w;
  const auto cuts = char_boundaries(w);  // ascending, 0 and w.size() included
  // The longest entry the word starts with (two syllables at least) whose
  // rest is particles and endings or a neutral tail: 급등했다 -> 급등.
  for (auto end = cuts.rbegin(); end != cuts.rend(); ++end) {
    const std::string_view prefix(w.data(), *end);
    if (syllables(prefix) < 2) break;
    if (ko_.count(std::string(prefix)) && strippable(std::string_view(w).substr(*end))) return std::string(prefix);
  }
  // A compound ending in an entry (동반하락, 가격급등).
  for (std::size_t b = 1; b + 1 < cuts.size(); ++b) {
    const std::string_view tail = std::string_view(w).substr(cuts[b]);
    if (syllables(tail) < 2) break;
    for (auto end = cuts.rbegin(); end != cuts.rend() && *end > cuts[b]; ++end) {
      const std::string_view cand = std::string_view(w).substr(cuts[b], *end - cuts[b]);
      if (syllables(cand) < 2) break;
      if (ko_.count(std::string(cand)) && strippable(std::string_view(w).substr(*end))) return std::string(cand);
    }
  }
  return {};
}

std::optional<double> sentiment_scorer::korean_weight(std::string_view token) const {
  const std::string stem = korean_stem(token);
  if (stem.empty()) return std::nullopt;
  return ko_.at(stem);
}

void sentiment_scorer::add_symbols(const std::vector<std::string>& tokens, std::vector<std::string>& out) const {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string key;
    for (std::size_t n = 1; n <= max_sym_words_ && i + n <= tokens.size(); ++n) {
      key += (n > 1 ? " " : "") + tokens[i + n - 1];
      if (auto it = symbols_.find(key); it != symbols_.end()) out.push_back(it->second);
    }
    if (has_non_ascii(tokens[i]) && !symbols_.count(tokens[i])) {
      // 비트코인이, 이더리움은: the name with its particle.
      const auto cuts = char_boundaries(tokens[i]);
      for (auto end = cuts.rbegin(); end != cuts.rend() && *end > 0; ++end) {
        auto it = symbols_.find(tokens[i].substr(0, *end));
        if (it != symbols_.end() && strippable(std::string_view(tokens[i]).substr(*end))) {
          out.push_back(it->second);
          break;
        }
      }
    }
  }
}

void sentiment_scorer::add_keyword_symbols(const std::vector<std::string>& keywords,
                                           std::vector<std::string>& out) const {
  for (const auto& k : keywords) {
    const std::string lower = text::lower(k);
    if (auto it = symbols_.find(lower); it != symbols_.end()) {
      out.push_back(it->second);
    } else if (!k.empty() && k.size() <= 10 && std::all_of(k.begin(), k.end(), [](char c) {
                 return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
               })) {
      out.push_back(k);  // a ticker tag (Coinness originCodes)
    }
  }
}

sentiment_result sentiment_scorer::score(std::string_view title, std::string_view body,
                                         const std::vector<std::string>& keywords, std::size_t max_body_bytes) const {
  sentiment_result r;
  if (body.size() > max_body_bytes) body = body.substr(0, max_body_bytes);  // a cut character is a separator
  r.language = detect_language(title.empty() ? body : title);
  double sum = 0, sum_abs = 0;
  std::vector<std::string> symbols;
  const auto run = [&](std::string_view text, double segment_weight) {
    const auto tokens = tokenize(text);
    add_symbols(tokens, symbols);
    for (std::size_t i = 0; i < tokens.size();) {
      const std::string& t = tokens[i];
      double w = 0, mod = 1;
      std::size_t span = 1;
      if (has_non_ascii(t)) {
        auto k = korean_weight(t);
        if (!k) {
          ++i;
          continue;
        }
        w = *k;
        mod = korean_modifier(tokens, i);
      } else {
        auto hit = english_at(tokens, i);
        if (!hit) {
          ++i;
          continue;
        }
        w = hit->weight;
        span = hit->length;
        mod = english_modifier(tokens, i, span);
      }
      const double v = w * mod * segment_weight;
      sum += v;
      sum_abs += std::abs(v);
      ++r.hits;
      i += span;
    }
  };
  run(title, 2.0);
  run(body, 1.0);
  r.score = sum / std::sqrt(sum * sum + 15.0);
  r.label = r.score >= threshold_ ? "positive" : r.score <= -threshold_ ? "negative" : "neutral";
  r.confidence = r.hits == 0 ? 0.0 : std::min(1.0, std::abs(r.score) * (0.5 + 0.5 * std::abs(sum) / sum_abs));
  add_keyword_symbols(keywords, symbols);
  std::sort(symbols.begin(), symbols.end());
  symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  r.symbols = std::move(symbols);
  return r;
}

}  // namespace ctk::analyzer
