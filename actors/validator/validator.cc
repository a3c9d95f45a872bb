#include "actors/validator/validator.h"

#include <chrono>
#include <cmath>

#include "actors/validator/normalize.h"
#include "messages/envelope.h"

namespace ctk::validator {

namespace {

constexpr std::size_t max_title = 1000;
constexpr std::size_t max_content = 200'000;
constexpr std::size_t max_url = 2048;
constexpr std::size_t max_symbol = 32;
constexpr std::size_t max_classification = 64;
constexpr std::int64_t earliest_ms = 946'684'800'000;  // 2000-01-01: older is a parse slip
constexpr std::int64_t future_slack_ms = 86'400'000;   // one day: clocks and time zones

struct fail {
  std::string rule, reason;
};

// Loosely typed access to the raw `data` object: the crawler maps source
// fields to the kind's names but leaves formats to us.
class fields {
 public:
  explicit fields(simdjson::dom::object o) : o_(o) {}

  bool has(std::string_view k) const {
    simdjson::dom::element e;
    return !o_[k].get(e) && !e.is_null();
  }

  std::optional<fail> text(std::string_view k, bool required, std::size_t cap, std::string& out) const {
    simdjson::dom::element e;
    if (o_[k].get(e) || e.is_null()) {
      if (required) return fail{"required", std::string(k) + ": required field is missing"};
      return std::nullopt;
    }
    std::string_view s;
    if (e.get_string().get(s)) return fail{"type", std::string(k) + ": expected a string"};
    if (s.size() > cap)
      return fail{"length",
                  std::string(k) + ": " + std::to_string(s.size()) + " bytes, more than " + std::to_string(cap)};
    out.assign(s);
    return std::nullopt;
  }

  std::optional<fail> number(std::string_view k, double& out) const {
    simdjson::dom::element e;
    if (o_[k].get(e) || e.is_null()) return fail{"required", std::string(k) + ": required field is missing"};
    double d;
    if (!e.get_double().get(d)) {
      out = d;
      return std::nullopt;
    }
    std::string_view s;
    if (!e.get_string().get(s)) {
      if (auto v = parse_number(s)) {
        out = *v;
        return std::nullopt;
      }
      return fail{"number", std::string(k) + ": '" + std::string(s.substr(0, 40)) + "' is not a number"};
    }
    return fail{"type", std::string(k) + ": expected a number"};
  }

  // Time in any supported format → UTC ISO-8601 ms.
  std::optional<fail> time(std::string_view k, std::string_view zone, std::int64_t now_ms, std::string& out) const {
    simdjson::dom::element e;
    if (o_[k].get(e) || e.is_null()) return fail{"required", std::string(k) + ": required field is missing"};
    std::string text;
    std::int64_t i;
    double d;
    std::string_view s;
    if (!e.get_int64().get(i))
      text = std::to_string(i);
    else if (!e.get_double().get(d) && std::isfinite(d) && std::fabs(d) < 1e17)
      text = std::to_string(static_cast<std::int64_t>(d));
    else if (!e.get_string().get(s))
      text = std::string(s);
    else
      return fail{"type", std::string(k) + ": expected a time (string or number)"};
    std::string why;
    auto ms = parse_time_ms(text, zone, why);
    if (!ms) return fail{"timestamp_format", std::string(k) + ": " + why};
    if (*ms < earliest_ms)
      return fail{"timestamp_range", std::string(k) + ": " + format_utc_ms(*ms) + " is before 2000"};
    if (*ms > now_ms + future_slack_ms)
      return fail{"timestamp_future", std::string(k) + ": " + format_utc_ms(*ms) + " is more than a day in the future"};
    out = format_utc_ms(*ms);
    return std::nullopt;
  }

 private:
  simdjson::dom::object o_;
};

std::string title_case(std::string_view s) {
  std::string out(s);
  bool start = true;
  for (auto& c : out) {
    c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
    start = c == ' ';
  }
  return out;
}

// Each kind's checks and normalisation: the record into `data`, its
// natural key into `key`; the first problem, if any.
std::optional<fail> check_market(const fields& f, const std::string& zone, std::int64_t now_ms, msg::market_data& m,
                                 std::string& data, std::string& key) {
  if (auto e = f.text("symbol", true, max_symbol, m.symbol)) return e;
  collapse_space_in_place(m.symbol);
  for (auto& c : m.symbol) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (m.symbol.empty()) return fail{"required", "symbol: empty"};
  for (char c : m.symbol)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '/' && c != '_' && c != '.')
      return fail{"symbol", "symbol: '" + m.symbol + "' has characters other than A-Z 0-9 - / _ ."};
  if (auto e = f.number("price", m.price)) return e;
  if (!(m.price > 0)) return fail{"price_positive", "price: must be above 0, got " + std::to_string(m.price)};
  if (!(m.price <= msg::max_price)) return fail{"price_range", "price: at most 1e15, got " + std::to_string(m.price)};
  if (auto e = f.number("volume_24h", m.volume_24h)) return e;
  if (!(m.volume_24h >= 0)) return fail{"volume_non_negative", "volume_24h: must be 0 or more"};
  if (!(m.volume_24h <= msg::max_volume)) return fail{"volume_range", "volume_24h: at most 1e18"};
  if (auto e = f.number("change_24h", m.change_24h)) return e;
  if (!std::isfinite(m.change_24h) || m.change_24h < -1 || m.change_24h > 1000)
    return fail{"change_range", "change_24h: a fraction between -1 and 1000 (0.0108 = +1.08 %)"};
  if (auto e = f.time("timestamp", zone, now_ms, m.timestamp)) return e;
  key = msg::natural_key(m);
  msg::encode(m, data);
  return std::nullopt;
}

std::optional<fail> check_news(const fields& f, simdjson::dom::object obj, const std::string& zone, std::int64_t now_ms,
                               std::string& data, std::string& key) {
  msg::news_data n;
  std::string title, url, content;
  if (auto e = f.text("title", true, max_title * 4, title)) return e;
  if (auto e = f.text("url", false, max_url, url)) return e;
  if (auto e = f.text("content", false, max_content, content)) return e;
  if (!msg::is_valid_utf8(title) || !msg::is_valid_utf8(content)) return fail{"utf8", "title or content is not UTF-8"};
  n.title = strip_html(title);
  if (n.title.empty()) return fail{"required", "title: empty after removing markup"};
  if (n.title.size() > max_title) return fail{"length", "title: more than " + std::to_string(max_title) + " bytes"};
  n.content = strip_html(content);
  if (!url.empty()) {
    std::string why;
    auto canon = canonical_url(url, why);
    if (!canon) return fail{"url", "url: " + why};
    n.url = *canon;
  }
  if (auto e = f.time("published_at", zone, now_ms, n.published_at)) return e;
  simdjson::dom::element kw;
  if (!obj["keywords"].get(kw) && !kw.is_null()) {
    simdjson::dom::array arr;
    if (kw.get_array().get(arr)) return fail{"type", "keywords: expected an array of strings"};
    for (auto k : arr) {
      std::string_view s;
      if (k.get_string().get(s)) return fail{"type", "keywords: expected an array of strings"};
      std::string t = collapse_space(s);
      if (!t.empty() && t.size() <= 64 && n.keywords.size() < 64) n.keywords.push_back(std::move(t));
    }
  }
  for (auto [name, vote] : {std::pair{"votes_up", &n.votes_up}, std::pair{"votes_down", &n.votes_down}}) {
    simdjson::dom::element e;
    if (obj[name].get(e) || e.is_null()) continue;
    double v = 0;
    if (auto bad = f.number(name, v)) return bad;
    if (v < 0 || v > 1e12 || v != std::floor(v))
      return fail{"votes_range", std::string(name) + ": a whole number of votes, 0 or more"};
    *vote = static_cast<std::int64_t>(v);
  }
  key = msg::natural_key(n);
  if (!msg::encode(n, data)) return fail{"utf8", "news record could not be encoded"};
  return std::nullopt;
}

std::optional<fail> check_fear_greed(const fields& f, const std::string& zone, std::int64_t now_ms, std::string& data,
                                     std::string& key) {
  msg::fear_greed_data g;
  double v;
  if (auto e = f.number("value", v)) return e;
  if (v < 0 || v > 100 || v != std::floor(v))
    return fail{"value_range", "value: an integer 0..100, got " + std::to_string(v)};
  g.value = static_cast<std::int64_t>(v);
  if (auto e = f.text("classification", true, max_classification, g.classification)) return e;
  g.classification = title_case(collapse_space(g.classification));
  if (g.classification.empty()) return fail{"required", "classification: empty"};
  if (auto e = f.time("timestamp", zone, now_ms, g.timestamp)) return e;
  key = msg::natural_key(g);
  msg::encode(g, data);
  return std::nullopt;
}

}  // namespace

const result& checker::check(std::string_view raw, std::int64_t now_ms) {
  // Members, not locals: their buffers are reused, message after message.
  result& r = result_;
  r.ok = false;
  r.partition_key.clear();
  auto reject = [&](std::string rule, std::string reason) -> const result& {
    r.rule = std::move(rule);
    r.reason = std::move(reason);
    return r;
  };
  msg::envelope& env = env_;
  msg::decode_error err;
  // One parse: `data` stays a DOM element of the same parse.
  if (!decoder_.decode_in_place(raw, env, err)) return reject("decode", "envelope: " + err.to_string());
  if (env.v != msg::envelope_version)
    return reject("version", "envelope version " + std::to_string(env.v) + " is not 1");
  if (!msg::valid_source(env.source)) return reject("source", msg::valid_source_rule);
  {
    std::string why;
    auto fetched = parse_time_ms(env.fetched_at, "UTC", why);
    if (!fetched) return reject("timestamp_format", "fetched_at: " + why);
    if (*fetched > now_ms + future_slack_ms)
      return reject("timestamp_future", "fetched_at: more than a day in the future");
    env.fetched_at = format_utc_ms(*fetched);
  }
  simdjson::dom::object obj;
  if (env.data.dom.get_object().get(obj)) return reject("type", "data: expected an object");
  fields f(obj);
  std::string zone;
  if (auto e = f.text("timezone", false, 64, zone)) return reject(e->rule, e->reason);

  std::optional<fail> bad;
  if (env.kind == "market") {
    bad = check_market(f, zone, now_ms, market_, data_, key_);
    if (!bad) r.partition_key = market_.symbol;
  } else if (env.kind == "news") {
    bad = check_news(f, obj, zone, now_ms, data_, key_);
    if (!bad) r.partition_key = pipeline::news_placement_key;
  } else if (env.kind == "fear_greed") {
    bad = check_fear_greed(f, zone, now_ms, data_, key_);
  } else {
    return reject("kind", "kind '" + env.kind.substr(0, 40) + "' is not market, news or fear_greed");
  }
  if (bad) return reject(std::move(bad->rule), std::move(bad->reason));
  const std::string& key = key_;
  std::string& data = data_;

  env.id = msg::record_id(env.source, key);
  env.data.text.swap(data);  // data_ keeps the previous buffer for the next record
  if (!env.url.empty()) {
    // Records of one crawl share their page's URL: the last answer is kept.
    if (env.url != last_url_in_) {
      std::string why;
      auto canon = canonical_url(env.url, why);
      last_url_in_ = env.url;
      last_url_out_ = canon ? *canon : env.url;
    }
    env.url = last_url_out_;
  }
  if (!msg::encode(env, r.json, &err.what)) return reject("utf8", "envelope: " + err.what);
  r.ok = true;
  r.id = env.id;
  return r;
}

namespace {
class validator_actor final : public pipeline::actor {
 public:
  explicit validator_actor(pipeline::metrics_registry& m) : metrics_(m) {}
  std::string name() const override { return "validator"; }
  std::vector<std::string> inputs() const override { return {"raw"}; }
  std::vector<std::string> outputs() const override { return {"valid"}; }
  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter& out) override {
    const auto now = msg::utc_now_ms();
    const result& r = checker_.check(in.value, now);
    if (!r.ok) {
      metrics_
          .counter("ctk_validator_rejected_total", "records dead-lettered, by the rule they broke", {{"rule", r.rule}})
          .fetch_add(1);
      return pipeline::outcome::dead_letter(r.rule, r.reason);
    }
    out.emit("valid", r.id, r.json, r.partition_key.empty() ? -1 : out.partition_for("valid", r.partition_key));
    return pipeline::outcome::ok();
  }

 private:
  checker checker_;
  pipeline::metrics_registry& metrics_;
};
}  // namespace

std::unique_ptr<pipeline::actor> make_validator(const pipeline::actor_context& ctx) {
  return std::make_unique<validator_actor>(ctx.metrics);
}

}  // namespace ctk::validator
