// Fear & greed indexes: alternative.me, CNN.
#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/crawler/parser_kit.h"
#include "actors/validator/normalize.h"

namespace ctk::crawler::kit {

// ---- alternative_me: crypto fear & greed -------------------------------
void parse_alternative_me(const parser_context& c, const page& p, parse_result& r) {
  element root;
  if (!parse_json(c, p, root, r)) return;
  element meta, err;
  if (field(root, "metadata", meta) && field(meta, "error", err)) {
    r.error = "alternative.me reports an error: " + text_of(err);
    return;
  }
  element data;
  simdjson::dom::array arr;
  if (!field(root, "data", data) || data.get_array().get(arr)) {
    r.error = "expected an object with a `data` array";
    return;
  }
  for (element g : arr) {
    const std::string ts = text_field(g, "timestamp");
    if (ts.empty()) {
      r.item_errors.push_back("an index value without `timestamp`");
      continue;
    }
    data_writer d;
    element e;
    if (field(g, "value", e)) d.value("value", e);
    if (field(g, "value_classification", e)) d.value("classification", e);
    d.str("timestamp", ts);
    r.items.push_back({ts, p.url, d.done()});
  }
}

// ---- cnn_fear_greed: the current CNN index (shipped disabled) ----------
void parse_cnn(const parser_context& c, const page& p, parse_result& r) {
  element root;
  if (!parse_json(c, p, root, r)) return;
  element fg;
  if (!field(root, "fear_and_greed", fg)) {
    r.error = "expected an object with `fear_and_greed`";
    return;
  }
  element score;
  double v;
  if (!field(fg, "score", score) || score.get_double().get(v)) {
    r.error = "fear_and_greed.score: expected a number";
    return;
  }
  const std::string ts = text_field(fg, "timestamp");
  data_writer d;
  d.integer("value", static_cast<std::int64_t>(std::llround(v)));  // CNN scores are fractional; the index is 0..100
  element e;
  if (field(fg, "rating", e)) d.value("classification", e);
  if (!ts.empty()) d.str("timestamp", ts);
  r.items.push_back({ts.empty() ? "current" : ts, p.url, d.done()});
}

}  // namespace ctk::crawler::kit
