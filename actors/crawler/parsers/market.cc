// Upbit: the KRW board.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <system_error>

#include "actors/crawler/parser_kit.h"
#include "actors/validator/normalize.h"

namespace ctk::crawler::kit {

// ---- upbit: the KRW board from /v1/ticker/all (or /v1/ticker) ----------
// The error shapes, read with the DOM (rare, small).
void upbit_not_a_board(const parser_context& c, const page& p, parse_result& r) {
  r.items.clear();
  r.item_errors.clear();
  element root;
  if (!parse_json(c, p, root, r)) return;
  element e;
  if (!root["error"].get(e))
    r.error = "Upbit error: " + text_field(e, "name") + ": " + text_field(e, "message");
  else
    r.error = "expected a JSON array of tickers";
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// A value copied as its JSON text must be one: On-Demand finds where a
// scalar ends but does not read it, so `17#59` or `tru` would pass through
// into the record (found by fuzz/parsers_fuzz.cc). A number (an integer
// within 64 bits), true, false, or a string without escapes (the validator
// reads those as text).
bool json_scalar(std::string_view v) {
  if (v == "true" || v == "false") return true;
  if (v.size() >= 2 && v.front() == '"') {
    const std::string_view in = v.substr(1, v.size() - 2);
    return v.back() == '"' && in.find_first_of("\\\"") == std::string_view::npos &&
           std::none_of(in.begin(), in.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20; });
  }
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    return i > from;
  };
  if (i < v.size() && v[i] == '-') ++i;
  const std::size_t int_from = i;
  if (i < v.size() && v[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  // An integer of more than 19 digits is JSON, but beyond 64 bits: the
  // validator's simdjson refuses it as a number.
  if (i - int_from > 19 && (i == v.size() || (v[i] != '.' && v[i] != 'e' && v[i] != 'E'))) return false;
  bool real = false;
  if (i < v.size() && v[i] == '.') real = true;
  if (i < v.size() && v[i] == '.' && (++i, !digits())) return false;
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    real = true;
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (!digits()) return false;
  }
  if (i != v.size()) return false;
  if (!real) return true;
  // JSON, but beyond a double ("179595E120628"): simdjson refuses it.
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  return ec == std::errc() && end == v.data() + v.size() && std::isfinite(d);
}

// A whole board is 100-250 tickers of 26 fields, crawled every few minutes:
// the On-Demand API walks each ticker once and copies the five values the
// record needs as their JSON text (no double round trip, no DOM).
void parse_upbit(const parser_context& c, const page& p, parse_result& r) {
  std::string& buf = c.scratch;
  buf.reserve(p.body.size() + simdjson::SIMDJSON_PADDING);
  buf.assign(p.body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::array arr;
  if (c.ondemand.iterate(simdjson::padded_string_view(buf.data(), buf.size(), buf.capacity())).get(doc) ||
      doc.get_array().get(arr))
    return upbit_not_a_board(c, p, r);
  auto fail = [&](simdjson::error_code e) {
    r.items.clear();
    r.item_errors.clear();
    r.error = e == simdjson::UTF8_ERROR ? "the body is not valid UTF-8"
                                        : std::string("not valid JSON: ") + simdjson::error_message(e);
  };
  std::string data;
  for (auto el : arr) {
    simdjson::ondemand::object o;
    if (auto e = el.get_object().get(o)) {
      if (e != simdjson::INCORRECT_TYPE) return fail(e);
      r.item_errors.push_back("a ticker that is not an object");
      continue;
    }
    std::string_view market, price, volume, change, ts, trade_ts;
    std::string_view bad;  // a field whose value is not a JSON scalar
    for (auto f : o) {
      std::string_view k, v;
      if (auto e = f.unescaped_key().get(k)) return fail(e);
      std::string_view* slot = k == "market"                 ? &market
                               : k == "trade_price"          ? &price
                               : k == "acc_trade_volume_24h" ? &volume
                               : k == "signed_change_rate"   ? &change
                               : k == "timestamp"            ? &ts
                               : k == "trade_timestamp"      ? &trade_ts
                                                             : nullptr;
      if (!slot) continue;  // skipped by the iterator, unread
      if (auto e = f.value().raw_json_token().get(v)) return fail(e);
      v = trim_right(v);
      if (v == "null") continue;
      if (slot != &market && !json_scalar(v)) bad = k;
      *slot = v;
    }
    if (!bad.empty()) {
      r.item_errors.push_back("a ticker whose `" + std::string(bad) + "` is not a JSON number or plain string");
      continue;
    }
    if (market.size() < 3 || market.front() != '"' || !json_scalar(market)) {
      r.item_errors.push_back(market.empty() ? "a ticker without `market`"
                                             : "a ticker whose `market` is not a plain string");
      continue;
    }
    if (ts.empty()) ts = trade_ts;
    data.assign(R"({"symbol":)").append(market);
    if (!price.empty()) data.append(R"(,"price":)").append(price);
    if (!volume.empty()) data.append(R"(,"volume_24h":)").append(volume);
    if (!change.empty()) data.append(R"(,"change_24h":)").append(change);
    if (!ts.empty()) data.append(R"(,"timestamp":)").append(ts);
    data += '}';
    r.items.push_back({std::string(market.substr(1, market.size() - 2)), p.url, data});
  }
}

}  // namespace ctk::crawler::kit
