#include "batch/aggregate.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>

#include "actors/analyzer/sentiment.h"
#include "actors/validator/normalize.h"

namespace ctk::batch {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Shortest text that reads back as the same double: both paths print the
// same bytes for the same value.
void put_number(std::string& out, double v) {
  char b[32];
  auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

template <class T>
bool read_number(std::string_view s, T& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Tabs, newlines and '|' would break a key or a value: replaced by spaces.
std::string& append_clean(std::string& out, std::string_view s) {
  const std::size_t at = out.size();
  out += s;
  for (std::size_t i = at; i < out.size(); ++i)
    if (out[i] == '\t' || out[i] == '\n' || out[i] == '\r' || out[i] == '|') out[i] = ' ';
  return out;
}

void put_integer(std::string& out, std::int64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

// "2026-12-06T14" (hour) or "2026-12-06" (day) of a time in ms (UTC).
std::string utc_prefix(std::int64_t ms, bool hour) {
  // Records come in time order: the last answer is usually this one's.
  thread_local std::int64_t cached_unit = -1;
  thread_local bool cached_hour = false;
  thread_local std::string cached;
  const std::int64_t unit = ms / (hour ? 3'600'000 : 86'400'000);
  if (ms >= 0 && unit == cached_unit && hour == cached_hour) return cached;
  const std::time_t t = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char b[48];
  if (hour)
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
  else
    std::snprintf(b, sizeof b, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  cached_unit = ms >= 0 ? unit : -1;
  cached_hour = hour;
  cached = b;
  return cached;
}

// A JSON string: quotes, backslashes and control characters escaped.
void put_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

namespace {
constexpr std::array<std::uint8_t, 256> hex_digits = [] {  // 16: not a hex digit
  std::array<std::uint8_t, 256> t{};
  t.fill(16);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<std::uint8_t>(c);
  for (int c = 0; c < 6; ++c) t['a' + c] = t['A' + c] = static_cast<std::uint8_t>(10 + c);
  return t;
}();
}  // namespace

// Every record's id is read by map() and again for the day's id set (and
// by a Hadoop reducer's group): a table per digit instead of from_chars,
// which was a tenth of the aggregate's run.
std::optional<id128> parse_id(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  std::uint8_t bad = 0;
  const auto half = [&](const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 16; ++i) {
      const std::uint8_t d = hex_digits[static_cast<unsigned char>(p[i])];
      bad |= d;
      v = v << 4 | (d & 15);
    }
    return v;
  };
  const id128 id{half(hex.data()), half(hex.data() + 16)};
  if (bad & 16) return std::nullopt;
  return id;
}

struct mapper::impl {
  const analyzer::sentiment_scorer* scorer;
  simdjson::ondemand::parser parser, inner;
  std::string buf;  // the record, padded for simdjson
};

mapper::mapper(const analyzer::sentiment_scorer* scorer) : p_(std::make_unique<impl>()) { p_->scorer = scorer; }
mapper::~mapper() = default;

namespace {

using simdjson::ondemand::object;

// The record's own time: `field` of data, else fetched_at (hdfs-sink's rule
// for the day folder).
std::optional<std::int64_t> record_time(std::string_view own, std::string_view fetched_at, std::string& why) {
  if (auto t = validator::parse_time_ms(own.empty() ? fetched_at : own, "UTC", why)) return t;
  why = "time: " + why;
  return std::nullopt;
}

bool map_market(object data, std::string_view source, std::string_view fetched_at, std::string_view id,
                std::string& key, std::string& value, std::string& why) {
  std::string_view symbol, ts;
  double price = 0, volume = 0;
  if (data.find_field_unordered("symbol").get(symbol) || data.find_field_unordered("price").get(price)) {
    why = "market data without symbol or price";
    return false;
  }
  if (data.find_field_unordered("volume_24h").get(volume)) volume = 0;
  if (data.find_field_unordered("timestamp").get(ts)) ts = {};
  auto at = record_time(ts, fetched_at, why);
  if (!at) return false;
  key.assign("market|");
  append_clean(append_clean(key, source) += '|', symbol) += '|';
  key += utc_prefix(*at, true);
  value.assign(id) += '\t';
  put_integer(value, *at);
  value += '\t';
  put_number(value, price);
  value += '\t';
  put_number(value, volume);
  return true;
}

bool map_fear_greed(object data, std::string_view source, std::string_view fetched_at, std::string_view id,
                    std::string& key, std::string& value, std::string& why) {
  std::int64_t v = 0;
  std::string_view label, ts;
  if (data.find_field_unordered("value").get(v)) {
    why = "fear_greed data without value";
    return false;
  }
  if (data.find_field_unordered("classification").get(label)) label = {};
  if (data.find_field_unordered("timestamp").get(ts)) ts = {};
  auto at = record_time(ts, fetched_at, why);
  if (!at) return false;
  key.assign("fear_greed|");
  append_clean(key, source) += '|';
  key += utc_prefix(*at, false);
  value.assign(id) += '\t';
  put_integer(value, *at);
  value += '\t';
  put_integer(value, v);
  append_clean(value += '\t', label);
  return true;
}

bool map_news(const analyzer::sentiment_scorer* scorer, object data, std::string_view source,
              std::string_view fetched_at, std::string_view id, std::string& key, std::string& value,
              std::string& why) {
  std::string_view title, content, published;
  if (data.find_field_unordered("title").get(title)) title = {};
  if (data.find_field_unordered("content").get(content)) content = {};
  if (data.find_field_unordered("published_at").get(published)) published = {};
  std::vector<std::string> keywords;
  simdjson::ondemand::array kw;
  if (!data.find_field_unordered("keywords").get(kw))
    for (auto k : kw) {
      std::string_view s;
      if (!k.get(s)) keywords.emplace_back(s);
    }
  auto at = record_time(published, fetched_at, why);
  if (!at) return false;
  key.assign("news|");
  append_clean(key, source) += '|';
  key += utc_prefix(*at, true);
  value.assign(id) += '\t';
  if (scorer) {
    const auto r = scorer->score(title, content, keywords, 64 * 1024);
    if (r.hits > 0) value += std::to_string(std::llround(r.score * 1e9));
    value += '\t';
    std::vector<std::string> symbols = r.symbols;
    std::sort(symbols.begin(), symbols.end());
    symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
    for (std::size_t i = 0; i < symbols.size(); ++i) append_clean(i ? value += ',' : value, symbols[i]);
  } else {
    value += '\t';
  }
  return true;
}

}  // namespace

namespace {
bool map_data(const analyzer::sentiment_scorer* scorer, std::string_view kind, object data, std::string_view source,
              std::string_view fetched_at, std::string_view id, std::string& key, std::string& value,
              std::string& why) {
  if (kind == "market") return map_market(data, source, fetched_at, id, key, value, why);
  if (kind == "news") return map_news(scorer, data, source, fetched_at, id, key, value, why);
  return map_fear_greed(data, source, fetched_at, id, key, value, why);
}
}  // namespace

bool mapper::map(std::string_view json, std::string& key, std::string& value, std::string& why, std::size_t readable) {
  why.clear();
  const char* at = json.data();
  if (readable < json.size() + simdjson::SIMDJSON_PADDING) {
    auto& b = p_->buf;
    b.assign(json);
    b.resize(json.size() + simdjson::SIMDJSON_PADDING);
    at = b.data();
    readable = b.size();
  }
  simdjson::ondemand::document doc;
  object env, data;
  std::string_view id, source, kind, fetched_at;
  if (p_->parser.iterate(at, json.size(), readable).get(doc) || doc.get_object().get(env) ||
      env.find_field_unordered("id").get(id) || env.find_field_unordered("source").get(source) ||
      env.find_field_unordered("kind").get(kind)) {
    why = "not an envelope (JSON with id, source, kind)";
    return false;
  }
  if (kind != "market" && kind != "news" && kind != "fear_greed") return false;  // no aggregate of its own
  if (!parse_id(id)) {
    why = "id must be 32 hex characters";
    return false;
  }
  if (env.find_field_unordered("fetched_at").get(fetched_at)) fetched_at = {};
  simdjson::ondemand::value dv;
  std::string_view text;
  if (env.find_field_unordered("data").get(dv)) {
    why = "no data";
    return false;
  }
  if (!dv.get_object().get(data)) return map_data(p_->scorer, kind, data, source, fetched_at, id, key, value, why);
  // From Avro through Hadoop's AvroAsTextInputFormat, `data` is the object's JSON text.
  if (dv.get_string().get(text)) {
    why = "data is not an object";
    return false;
  }
  const std::string own_id(id), own_source(source), own_kind(kind), own_fetched(fetched_at);
  std::string inner(text);
  inner.resize(text.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document inner_doc;
  if (p_->inner.iterate(inner.data(), text.size(), inner.size()).get(inner_doc) || inner_doc.get_object().get(data)) {
    why = "data is not an object";
    return false;
  }
  return map_data(p_->scorer, own_kind, data, own_source, own_fetched, own_id, key, value, why);
}

group::group(std::string_view key, bool dedup) : kind_(key.substr(0, key.find('|'))), key_(key), dedup_(dedup) {}

namespace {
// The next tab-separated field of `rest` (which loses it and its tab).
std::string_view next_field(std::string_view& rest, bool& more) {
  const auto tab = rest.find('\t');
  std::string_view f = rest.substr(0, tab);
  more = tab != std::string_view::npos;
  rest.remove_prefix(more ? tab + 1 : rest.size());
  return f;
}
}  // namespace

void group::pick::set(std::int64_t t, std::string_view i, double n, double v, std::string_view l) {
  at = t;
  id.assign(i);
  number = n;
  volume = v;
  label.assign(l);
}

bool group::add(std::string_view value, bool id_checked) {
  bool more = false;
  const std::string_view id = next_field(value, more);
  if (!more || (!id_checked && !parse_id(id))) return false;
  if (kind_ == "market" || kind_ == "fear_greed") {
    std::int64_t at = 0;
    double number = 0, volume = 0;
    std::string_view label;
    if (!read_number(next_field(value, more), at) || !more || !read_number(next_field(value, more), number) || !more)
      return false;
    const std::string_view last = next_field(value, more);
    if (more || (kind_ == "market" && !read_number(last, volume))) return false;
    if (kind_ == "fear_greed") label = last;
    if (dedup_ && !ids_.emplace(id).second) return true;
    const bool first = records_ == 0;
    if (first || first_.earlier_than(at, id)) first_.set(at, id, number, volume, label);
    if (first || last_.later_than(at, id)) last_.set(at, id, number, volume, label);
    high_ = first ? number : std::max(high_, number);
    low_ = first ? number : std::min(low_, number);
    ++records_;
    return true;
  }
  if (kind_ != "news") return false;
  const std::string_view score_text = next_field(value, more);
  if (!more) return false;
  const std::string_view symbols = next_field(value, more);
  std::int64_t score = 0;
  if (more || (!score_text.empty() && !read_number(score_text, score))) return false;
  if (dedup_ && !ids_.emplace(id).second) return true;
  ++records_;
  if (!score_text.empty()) ++scored_, score_sum_ += score;
  for (std::string_view rest = symbols; !rest.empty();) {
    const auto comma = rest.find(',');
    ++mentions_[std::string(rest.substr(0, comma))];
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }
  return true;
}

std::string group::json() const {
  const auto k = split(key_, '|');
  const auto part = [&](std::size_t i) { return i < k.size() ? k[i] : std::string_view(); };
  std::string out = "{";
  const auto str = [&](const char* name, std::string_view v, std::string_view suffix = {}) {
    ((out += out.size() > 1 ? ",\"" : "\"") += name) += "\":";
    put_string(out, std::string(v) + std::string(suffix));
  };
  const auto num = [&](const char* name, double v) {
    ((out += ",\"") += name) += "\":";
    put_number(out, v);
  };
  str("source", part(1));
  if (kind_ == "market") {
    str("symbol", part(2));
    str("hour", part(3), ":00:00Z");
    num("open", first_.number);
    num("high", high_);
    num("low", low_);
    num("close", last_.number);
    num("volume_24h", last_.volume);
  } else if (kind_ == "fear_greed") {
    str("date", part(2));
    num("value", last_.number);
    str("classification", last_.label);
    num("min", low_);
    num("max", high_);
  } else {
    str("hour", part(2), ":00:00Z");
    if (scored_ > 0)
      num("mean_sentiment", static_cast<double>(score_sum_) / 1e9 / static_cast<double>(scored_));
    else
      out += ",\"mean_sentiment\":null";
    num("scored", static_cast<double>(scored_));
    std::vector<std::pair<std::int64_t, std::string>> top;
    for (const auto& [s, n] : mentions_) top.emplace_back(-n, s);
    std::sort(top.begin(), top.end());
    out += ",\"top_symbols\":[";
    for (std::size_t i = 0; i < top.size() && i < 5; ++i) {
      out += i ? ",{\"symbol\":" : "{\"symbol\":";
      put_string(out, top[i].second);
      out += ",\"mentions\":" + std::to_string(-top[i].first) + "}";
    }
    out += "]";
  }
  num("records", static_cast<double>(records_));
  return out + "}";
}

}  // namespace ctk::batch
