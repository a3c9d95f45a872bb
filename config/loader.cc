#include "config/loader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "config/zone.h"
#include "messages/text.h"

namespace ctk::cfg {

std::string config_error::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  return s + ": " + message;
}

namespace detail {

std::string ctx::where() const {
  std::string s;
  for (const auto& p : path) {
    if (!s.empty() && p[0] != '[') s += '.';
    s += p;
  }
  return s;
}

void ctx::fail(const YAML::Node& at, std::string msg) {
  config_error e{file, 0, 0, std::move(msg)};
  const auto m = at.Mark();
  if (!m.is_null() && file.rfind("environment ", 0) != 0) {
    e.line = m.line + 1;
    e.column = m.column + 1;
  }
  errors->push_back(std::move(e));
}

namespace {
std::string prefixed(const ctx& c, const std::string& msg) {
  const auto w = c.where();
  return w.empty() ? msg : w + ": " + msg;
}

template <class I>
bool parse_int(const YAML::Node& n, I& out, ctx& c) {
  const std::string& s = n.Scalar();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) {
    c.fail(n, prefixed(c, "integer out of range: '" + s + "'"));
    return false;
  }
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    c.fail(n, prefixed(c, "expected an integer, got '" + s + "'"));
    return false;
  }
  return true;
}
}  // namespace

bool scalar(const YAML::Node& n, std::string& out, ctx&) {
  out = n.Scalar();
  return true;
}
bool scalar(const YAML::Node& n, int& out, ctx& c) { return parse_int(n, out, c); }
bool scalar(const YAML::Node& n, std::int64_t& out, ctx& c) { return parse_int(n, out, c); }

bool scalar(const YAML::Node& n, double& out, ctx& c) {
  const std::string& s = n.Scalar();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || !std::isfinite(out)) {
    c.fail(n, prefixed(c, "expected a number, got '" + s + "'"));
    return false;
  }
  return true;
}

bool scalar(const YAML::Node& n, bool& out, ctx& c) {
  const std::string& s = n.Scalar();
  if (s == "true") {
    out = true;
  } else if (s == "false") {
    out = false;
  } else {
    c.fail(n, prefixed(c, "expected true or false, got '" + s + "'"));
    return false;
  }
  return true;
}

bool scalar(const YAML::Node& n, duration& out, ctx& c) {
  const std::string& s = n.Scalar();
  if (s.empty()) {
    out = {};
    return true;
  }
  auto ms = parse_duration_ms(s);
  if (!ms) {
    c.fail(n, prefixed(c, "'" + s + "' is not a duration (250ms, 30s, 5m, 1h, 7d; 0 for none)"));
    return false;
  }
  out.text = s;
  out.ms = *ms;
  return true;
}

bool renamed_value(const YAML::Node& n, const std::string& old_name, std::string_view new_name, std::int64_t unit_ms,
                   duration& out, ctx& c) {
  std::int64_t v = 0;
  c.path.push_back(old_name);
  const bool ok = n.IsScalar() && parse_int(n, v, c);
  c.path.pop_back();
  if (!n.IsScalar()) c.fail(n, prefixed(c, old_name + ": expected an integer"));
  if (!ok) return false;
  if (v < 0) {
    c.fail(n, prefixed(c, old_name + ": must not be negative"));
    return false;
  }
  out.ms = v * unit_ms;
  out.text = format_duration(out.ms);
  config_error w{c.file, 0, 0,
                 "'" + old_name + "' is deprecated: write '" + std::string(new_name) + ": " + out.text + "'" +
                     (c.path.empty() ? "" : " in " + c.where())};
  const auto m = n.Mark();
  if (!m.is_null() && !c.file.starts_with("environment ")) {
    w.line = m.line + 1;
    w.column = m.column + 1;
  }
  if (c.warnings) c.warnings->push_back(std::move(w));
  return true;
}

std::string suggest(std::string_view key, const std::vector<std::string_view>& known) {
  const std::string_view best = text::closest(key, known);
  std::string s;
  if (!best.empty()) s = " (did you mean '" + std::string(best) + "'?)";
  s += " — known keys:";
  for (std::size_t i = 0; i < known.size(); ++i) s += (i ? ", " : " ") + std::string(known[i]);
  return s;
}

std::string yaml_scalar(const std::string& s) {
  if (s.empty()) return "\"\"";
  YAML::Emitter e;
  e << s;
  return e.c_str();
}

std::string yaml_scalar(double v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, p);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace detail

duration::duration(const char* t) : text(t), ms(parse_duration_ms(t).value_or(0)) {}

std::optional<std::int64_t> parse_duration_ms(std::string_view s) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p == s.data() || n < 0) return std::nullopt;
  std::string_view unit(p, s.data() + s.size() - p);
  if (n == 0 && unit.empty()) return 0;
  std::int64_t mult = 0;
  if (unit == "ms")
    mult = 1;
  else if (unit == "s")
    mult = 1000;
  else if (unit == "m")
    mult = 60'000;
  else if (unit == "h")
    mult = 3'600'000;
  else if (unit == "d")
    mult = 86'400'000;
  else
    return std::nullopt;
  if (n > std::numeric_limits<std::int64_t>::max() / mult) return std::nullopt;  // longer than 292 million years
  return n * mult;
}

std::string format_duration(std::int64_t ms) {
  static const std::pair<std::int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  if (ms == 0) return "0s";
  for (const auto& [size, name] : units)
    if (ms % size == 0) return std::to_string(ms / size) + name;
  return std::to_string(ms) + "ms";
}

std::optional<std::string> topics_settings::check(const topics_settings& t) {
  for (int p :
       {t.control, t.raw, t.valid, t.deadletter, t.unique, t.insights, t.dedup_state, t.reports, t.analyzer_state})
    if (p < 1 || p > 1024) return "partition counts must be between 1 and 1024";
  // The analyzer checkpoints the state of unique partition p to analyzer.state partition p.
  if (t.analyzer_state != t.unique) return "analyzer_state needs as many partitions as unique";
  // dedup writes unique partition p and dedup.state partition p for valid partition p.
  if (t.unique != t.valid || t.dedup_state != t.valid)
    return "unique and dedup_state need as many partitions as valid (dedup keeps partition numbers)";
  return std::nullopt;
}

std::optional<std::string> hdfs_settings::check(const hdfs_settings& h) {
  if (!h.url.starts_with("file://") && !h.url.starts_with("webhdfs://"))
    return "url: '" + h.url + "' must start with file:// or webhdfs://";
  if (h.format != "jsonl" && h.format != "avro") return "format: '" + h.format + "' is not supported (jsonl, avro)";
  if (h.avro_codec != "null" && h.avro_codec != "deflate" && h.avro_codec != "lzma" && h.avro_codec != "snappy")
    return "avro_codec: '" + h.avro_codec + "' is not one of null, deflate, lzma, snappy";
  if (h.avro_block_bytes < 4096 || h.avro_block_bytes > (64LL << 20)) return "avro_block_bytes must be 4096..67108864";
  if (h.rotate_records < 1) return "rotate_records must be at least 1";
  if (h.rotate_bytes < 1024) return "rotate_bytes must be at least 1024";
  if (h.rotate_after.ms < 1000) return "rotate_after: a duration of at least 1s (60s, 5m, ...)";
  if (h.timeout.ms < 100) return "timeout must be at least 100ms";
  if (h.retries < 0 || h.retries > 100) return "retries must be 0..100";
  return std::nullopt;
}

std::optional<std::string> postgres_settings::check(const postgres_settings& p) {
  if (p.batch_rows < 1) return "batch_rows must be at least 1";
  if (p.connect_timeout.ms < 1000 || p.connect_timeout.ms % 1000)
    return "connect_timeout must be whole seconds, at least 1s (libpq's unit)";
  return std::nullopt;
}

std::optional<std::string> analyzer_settings::check(const analyzer_settings& a) {
  if (a.intervals.empty()) return "intervals: at least one (5m, 1h, ...)";
  for (const auto& i : a.intervals)
    if (i.ms < 60'000 || 86'400'000 % i.ms != 0)
      return "intervals: '" + i.text +
             "' is not a whole fraction of a day of at least one minute (1m, 5m, 15m, 1h, 4h, 1d)";
  if (a.grace.empty() || a.snapshot_interval.ms < 1 || a.news_window.ms < 1 || a.news_lateness.empty())
    return "grace, snapshot_interval, news_window and news_lateness each take a duration (30s, 2m, 6h, ...); "
           "snapshot_interval and news_window above 0";
  for (int p : {a.sma_short, a.sma_long, a.ema_short, a.ema_long, a.rsi_period, a.macd_fast, a.macd_slow, a.macd_signal,
                a.bollinger_period, a.price_move_candles, a.volume_average})
    if (p < 1 || p > 500) return "indicator periods must be between 1 and 500 candles";
  if (a.macd_fast >= a.macd_slow) return "macd_fast must be shorter than macd_slow";
  if (!(a.bollinger_k > 0)) return "bollinger_k must be above 0";
  if (!(a.rsi_oversold < a.rsi_overbought)) return "rsi_oversold must be below rsi_overbought";
  if (!(a.sentiment_threshold >= 0 && a.sentiment_threshold < 1)) return "sentiment_threshold: 0 <= t < 1";
  if (a.max_text_bytes < 0) return "max_text_bytes must be 0 or more";
  if (a.news_min_mentions < 1) return "news_min_mentions must be at least 1";
  if (!(a.news_mood_threshold > 0 && a.news_mood_threshold < 1)) return "news_mood_threshold: 0 < t < 1";
  if (!(a.divergence_move_pct > 0)) return "divergence_move_pct must be above 0";
  if (a.max_pending_candles < 1) return "max_pending_candles must be at least 1";
  return std::nullopt;
}

std::optional<std::string> api_settings::check(const api_settings& a) {
  const auto colon = a.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return "listen: '" + a.listen + "' is not HOST:PORT";
  if (a.pool < 1 || a.pool > 64) return "pool must be 1..64";
  if (a.threads < 1 || a.threads > 256) return "threads must be 1..256";
  if (a.statement_timeout.ms < 1) return "statement_timeout must be above 0";
  if (a.cache_ttl.ms > 600'000) return "cache_ttl must be 0..10m";
  if (a.page_max < 1 || a.page_max > 10000) return "page_max must be 1..10000";
  return std::nullopt;
}

bool loopback_host(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const bool dotted =
      std::count(host.begin(), host.end(), '.') == 3 && std::all_of(host.begin(), host.end(), [](char ch) {
        return ch == '.' || std::isdigit(static_cast<unsigned char>(ch)) != 0;
      });
  return host == "localhost" || host == "::1" || (host.starts_with("127.") && dotted);
}

bool loopback_endpoint(std::string_view e) {
  if (e.starts_with("ipc://") || e.starts_with("inproc://")) return true;
  if (!e.starts_with("tcp://")) return false;
  e.remove_prefix(6);
  const auto colon = e.rfind(':');
  return colon != std::string_view::npos && loopback_host(e.substr(0, colon));
}

std::optional<std::string> control_settings::check(const control_settings& c) {
  if (c.heartbeat.ms < 10) return "heartbeat must be at least 10ms";
  if (c.dead_after.ms <= c.heartbeat.ms) return "dead_after must be longer than heartbeat";
  for (const auto& e : {c.router, c.pub})
    if (!e.empty() && c.curve_dir.empty() && !c.insecure && !loopback_endpoint(e))  // empty: no control plane
      return "'" + e +
             "' is not a loopback endpoint (tcp://127.0.0.1:PORT, ipc://, inproc://) and curve_dir is empty, so "
             "anyone who reaches it could stop every actor: make keys with `cointicker ctl keygen DIR` and set "
             "curve_dir (deploy/cluster-deploy.sh --curve-keys copies them to the nodes), or set insecure: true";
  return std::nullopt;
}

std::optional<std::string> scheduler_settings::check(const scheduler_settings& s) {
  if (s.overlap_timeout.ms < 1000) return "overlap_timeout must be at least 1s";
  return std::nullopt;
}

std::optional<std::string> dedup_settings::check(const dedup_settings& d) {
  if (d.ttl.ms < 1000) return "ttl: a duration of at least 1s (7d, 12h, ...)";
  if (d.max_ids_per_partition < 1000) return "max_ids_per_partition must be at least 1000";
  return std::nullopt;
}

std::optional<std::string> node_settings::check(const node_settings& n) {
  static const std::set<std::string> actors{"crawler", "validator", "dedup",    "hdfs-sink",
                                            "db-sink", "analyzer",  "scheduler"};
  if (n.name.empty()) return "a node needs a name";
  if (n.role != "master" && n.role != "worker") return "node '" + n.name + "': role must be master or worker";
  for (const auto& [a, count] : n.actors) {
    if (!actors.count(a))
      return "node '" + n.name + "': unknown actor '" + a +
             "' (crawler, validator, dedup, hdfs-sink, db-sink, analyzer, scheduler)";
    if (count < 0 || count > 64) return "node '" + n.name + "': instance count of " + a + " must be 0..64";
  }
  return std::nullopt;
}

std::optional<std::string> runtime_settings::check(const runtime_settings& r) {
  if (r.batch_max_messages < 1) return "batch_max_messages must be at least 1";
  if (r.batch_max_wait.ms < 1) return "batch_max_wait must be at least 1ms";
  if (r.delivery_timeout.ms < 1000) return "delivery_timeout must be at least 1s";
  if (r.max_inflight_batches < 1 || r.max_inflight_batches > 64) return "max_inflight_batches must be 1..64";
  if (r.retry_initial.ms < 1 || r.retry_max.ms < r.retry_initial.ms) return "need 1ms <= retry_initial <= retry_max";
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!levels.count(r.log_level)) return "log_level must be one of trace, debug, info, warn, error, critical, off";
  return std::nullopt;
}

std::optional<std::string> schedule_settings::check(const schedule_settings& s) {
  int set = !s.every.empty() + !s.daily.empty() + !s.cron.empty();
  if (set > 1) return "a schedule takes only one of every, daily, cron";
  if (!s.daily.empty()) {
    int h = -1, m = -1;
    char tail = 0;
    if (std::sscanf(s.daily.c_str(), "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
      return "daily: '" + s.daily + "' is not a time of day HH:MM";
  }
  if (!s.cron.empty()) {
    int fields = 0;
    bool in = false;
    for (char ch : s.cron) {
      if (ch != ' ' && !in) ++fields;
      in = ch != ' ';
    }
    if (fields != 5) return "cron: '" + s.cron + "' needs 5 fields (minute hour day month weekday)";
  }
  if (!s.every.empty() && s.every.ms < 1000) return "every: '" + s.every.text + "' must be at least 1s";
  std::string why;
  if (!load_zone(s.timezone, why)) return "timezone: " + why;
  return std::nullopt;
}

std::optional<std::string> source_settings::check(const source_settings& s) {
  static const std::set<std::string> kinds{"market", "news", "fear_greed"};
  static const std::set<std::string> parsers{
      "upbit", "alternative_me", "cnn_fear_greed", "coinness", "saveticker", "rss", "json", "html"};
  if (!kinds.count(s.kind)) return "kind must be market, news or fear_greed (got '" + s.kind + "')";
  if (!parsers.count(s.parser))
    return "parser must be one of upbit, alternative_me, cnn_fear_greed, coinness, saveticker, rss, json, html (got '" +
           s.parser + "')";
  if (s.urls.empty()) return "a source needs at least one URL in urls";
  if (!(s.rate_limit_per_s > 0)) return "rate_limit_per_s must be above 0";
  if (s.timeout.ms < 1) return "timeout must be above 0";
  if (s.retries < 0 || s.retries > 20) return "retries must be 0..20";
  if ((s.parser == "json" || s.parser == "html") && (s.items.empty() || s.fields.empty()))
    return "json and html sources need `items` and `fields` selectors";
  if (!s.enabled && s.disabled_reason.empty()) return "a disabled source needs a disabled_reason";
  if (s.max_pages < 1 || s.max_pages > 100'000) return "max_pages must be 1..100000";
  if (s.max_connections < 0 || s.max_connections > 1024) return "max_connections must be 0..1024";
  const auto& f = s.freshness;
  if (f.stale_after_failures < 0) return "freshness.stale_after_failures must be 0 or more";
  if (!f.late_after.empty() && !f.stale_after.empty() && f.stale_after.ms < f.late_after.ms)
    return "freshness.stale_after must not be shorter than freshness.late_after";
  return std::nullopt;
}

std::optional<std::string> crawler_settings::check(const crawler_settings& c) {
  if (c.max_body_bytes < 1024) return "max_body_bytes must be at least 1024";
  if (c.connect_timeout.ms < 1) return "connect_timeout must be above 0";
  if (c.max_redirects < 0 || c.max_redirects > 50) return "max_redirects must be 0..50";
  if (c.max_connections_per_host < 1 || c.max_connections < 1) return "connection limits must be at least 1";
  if (c.backoff_initial.ms < 1 || c.backoff_max.ms < c.backoff_initial.ms)
    return "backoff_initial must be above 0 and at most backoff_max";
  if (c.deadletter_body_bytes < 0) return "deadletter_body_bytes must be 0 or more";
  if (!c.replay.empty() && !c.replay.starts_with("http://"))
    return "replay must be an http:// URL of a replay server (got '" + c.replay + "')";
  return std::nullopt;
}

namespace {
bool load_file(const std::string& path, YAML::Node& root, std::vector<config_error>& errors) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back({path, 0, 0, "cannot open the file"});
    return false;
  }
  try {
    root = YAML::Load(in);
  } catch (const YAML::ParserException& ex) {
    errors.push_back({path, ex.mark.line + 1, ex.mark.column + 1, "YAML syntax: " + ex.msg});
    return false;
  } catch (const YAML::Exception& ex) {
    errors.push_back({path, 0, 0, "YAML: " + ex.msg});
    return false;
  }
  return true;
}
}  // namespace

std::vector<config_error> load_config(const std::string& dir, loaded_config& out, char** envp) {
  std::vector<config_error> errors;
  out = {};
  out.dir = dir;
  const std::string cluster = dir + "/cluster.yaml";
  const std::string sources = dir + "/sources.yaml";
  YAML::Node root;
  if (load_file(cluster, root, errors)) {
    auto e = decode_yaml(root, cluster, out.cluster, &out.warnings);
    errors.insert(errors.end(), e.begin(), e.end());
  }
  if (std::filesystem::exists(sources) && load_file(sources, root, errors)) {
    auto e = decode_yaml(root, sources, out.sources, &out.warnings);
    errors.insert(errors.end(), e.begin(), e.end());
  }
  auto e1 = apply_env(out.cluster, envp, &out.warnings);
  auto e2 = apply_env(out.sources, envp, &out.warnings);
  errors.insert(errors.end(), e1.begin(), e1.end());
  errors.insert(errors.end(), e2.begin(), e2.end());
  std::set<std::string> names;
  for (const auto& n : out.cluster.nodes)
    if (!names.insert(n.name).second) errors.push_back({cluster, 0, 0, "node name '" + n.name + "' appears twice"});
  return errors;
}

std::string default_config_dir() {
  if (const char* d = std::getenv("CTK_CONFIG_DIR"); d && *d) return d;
  return "config";
}

}  // namespace ctk::cfg
