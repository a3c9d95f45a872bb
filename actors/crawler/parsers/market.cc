// Upbit: the KRW board.
#include <algorithm>
#include <cmath>
#include <memory>

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
      if (v != "null") *slot = v;
    }
    if (market.size() < 3 || market.front() != '"' || market.find('\\') != std::string_view::npos) {
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
