#include "serve/api.h"

#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <filesystem>
#include <mutex>
#include <regex>
#include <unordered_map>

#include "actors/crawler/requests.h"
#include "actors/validator/normalize.h"
#include "brokers/control.h"
#include "brokers/topic_report.h"
#include "pipeline/metrics.h"
#include "serve/db_pool.h"
#include "serve/openapi.h"
#include "serve/queries.h"
#include "serve/replies.h"
#include "serve/request.h"

namespace ctk::serve {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::regex symbol_re("[A-Za-z0-9][A-Za-z0-9._/-]{0,31}");
const std::regex name_re("[A-Za-z0-9_.-]{1,64}");
const std::regex interval_re("[0-9]{1,4}[smhd]");
const std::regex cursor_re("-?[0-9]{1,19}\\.[0-9]{1,19}");

std::optional<double> opt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<double>();
}

template <class T>
void reply_json(httplib::Response& res, const T& v, int status = 200) {
  std::string out, err;
  if (!msg::encode(v, out, &err)) {
    res.status = 500;
    res.set_content(R"({"error":"the reply could not be encoded"})", "application/json");
    spdlog::error("serve: reply not encodable: {}", err);
    return;
  }
  res.status = status;
  res.set_content(out, "application/json");
}

void refuse(httplib::Response& res, const refusal& r) {
  error_reply e{r.error, r.parameter};
  reply_json(res, e, r.status);
}

}  // namespace

struct api::impl {
  cfg::loaded_config conf;
  std::string token;
  db_pool pool;
  httplib::Server http;
  reply_cache cache;
  std::atomic<bool> stopping{false};
  std::atomic<bool> returned{false};  // serve() returned

  impl(const cfg::loaded_config& c, std::string conninfo, std::string tok)
      : conf(c),
        token(std::move(tok)),
        pool(std::move(conninfo), c.cluster.api.pool, static_cast<int>(c.cluster.api.statement_timeout.ms),
             statements()),
        cache(static_cast<int>(c.cluster.api.cache_ttl.ms)) {}

  // A GET whose answer may be reused for the same URL (reply_cache).
  httplib::Server::Handler cached(std::function<void(const httplib::Request&, httplib::Response&)> fn) {
    return guard([this, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
      std::string key = req.path;
      for (const auto& [k, v] : req.params) key += '\x1f' + k + '=' + v;
      if (cache.get(key, res)) return;
      try {
        fn(req, res);
      } catch (...) {
        res.status = 500;  // ends this refresh; guard() writes the answer
        cache.put(key, res);
        throw;
      }
      cache.put(key, res);
    });
  }

  // Wraps a handler: refusals become their status, database trouble 503,
  // anything else 500; each logged without parameters' values.
  httplib::Server::Handler guard(std::function<void(const httplib::Request&, httplib::Response&)> fn) {
    return [fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
      try {
        fn(req, res);
      } catch (const refusal& r) {
        refuse(res, r);
      } catch (const pqxx::broken_connection& e) {
        spdlog::warn("serve: {} {}: database unreachable: {}", req.method, req.path, e.what());
        refuse(res, {503, "the database is unreachable", ""});
      } catch (const pqxx::sql_error& e) {
        spdlog::warn("serve: {} {}: {}", req.method, req.path, e.what());
        refuse(res, {503, std::string("the database refused the query: ") + e.sqlstate(), ""});
      } catch (const std::exception& e) {
        spdlog::error("serve: {} {}: {}", req.method, req.path, e.what());
        refuse(res, {500, "internal error", ""});
      }
    };
  }

  bool authorized(const httplib::Request& req) const {
    if (token.empty()) throw refusal{403, "actions are off: no api.token_file is configured", ""};
    const std::string h = req.get_header_value("Authorization");
    const std::string want = "Bearer " + token;
    // Constant time in the token's length.
    unsigned diff = h.size() != want.size();
    for (std::size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned>(i < h.size() ? h[i] ^ want[i] : 1);
    if (diff) throw refusal{401, "a valid bearer token is required (Authorization: Bearer …)", ""};
    return true;
  }

  void markets(const httplib::Request&, httplib::Response& res) {
    markets_reply out;
    for (const auto& i : conf.cluster.analyzer.intervals) out.intervals.push_back(i.text);
    pool.with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      for (const auto& row : t.exec_prepared("markets")) {
        market_item m;
        m.symbol = row[0].as<std::string>();
        m.price = row[1].as<double>();
        m.change_24h = row[2].as<double>();
        m.volume_24h = row[3].as<double>();
        m.timestamp = row[4].as<std::string>();
        m.spark.text = row[5].as<std::string>();
        out.items.push_back(std::move(m));
      }
    });
    reply_json(res, out);
  }

  void history(const httplib::Request& req, httplib::Response& res) {
    const params p(req, conf.cluster.api.page_max);
    const std::string symbol = req.matches[1];
    if (!std::regex_match(symbol, symbol_re)) throw refusal{400, "symbol is not valid", "symbol"};
    std::string interval = p.text("interval", 8, &interval_re);
    if (interval.empty()) interval = conf.cluster.analyzer.intervals.back().text;
    std::string to = p.time("to"), from = p.time("from");
    if (to.empty()) to = validator::format_utc_ms(now_ms() + 60'000);
    if (from.empty()) from = "1970-01-01T00:00:00.000Z";
    const auto limit = p.limit(conf.cluster.api.page_max);
    history_reply out;
    out.symbol = symbol;
    out.interval = interval;
    pool.with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      for (const auto& row : t.exec_prepared("candles", symbol, interval, from, to, limit)) {
        candle_item k;
        k.time = row[0].as<std::string>();
        std::optional<double>* cols[] = {&k.open,      &k.high,         &k.low,         &k.close,    &k.volume,
                                         &k.sma_short, &k.sma_long,     &k.ema_short,   &k.ema_long, &k.rsi,
                                         &k.macd,      &k.macd_signal,  &k.macd_hist,   &k.bb_upper, &k.bb_middle,
                                         &k.bb_lower,  &k.bb_percent_b, &k.bb_bandwidth};
        for (std::size_t i = 0; i < std::size(cols); ++i) *cols[i] = opt(row[static_cast<int>(i) + 1]);
        out.candles.push_back(std::move(k));
      }
      for (const auto& row : t.exec_prepared("ticks", symbol, from, to, limit))
        out.ticks.push_back({row[0].as<std::string>(), row[1].as<double>(), row[2].as<double>()});
    });
    std::reverse(out.candles.begin(), out.candles.end());  // oldest first, as charts draw
    std::reverse(out.ticks.begin(), out.ticks.end());
    reply_json(res, out);
  }

  void news(const httplib::Request& req, httplib::Response& res) {
    const params p(req, conf.cluster.api.page_max);
    std::vector<std::string> v;
    std::string where;
    // A clause whose %1, %2 are its values (placeholders numbered here).
    auto add = [&](std::string clause, std::initializer_list<std::string> values) {
      int k = 1;
      for (const auto& value : values) {
        v.push_back(value);
        const std::string mark = "%" + std::to_string(k++);
        for (std::size_t at; (at = clause.find(mark)) != std::string::npos;)
          clause.replace(at, mark.size(), "$" + std::to_string(v.size()));
      }
      where += (where.empty() ? " WHERE " : " AND ") + clause;
    };
    if (auto s = p.text("source", 64, &name_re); !s.empty()) add("n.source = %1", {s});
    if (auto s = p.text("symbol", 32, &symbol_re); !s.empty())
      add("(s.symbols @> jsonb_build_array(%1::text) OR n.keywords @> jsonb_build_array(%1::text))", {s});
    if (auto s = p.one_of("language", {"ko", "en"}); !s.empty()) add("s.language = %1", {s});
    if (auto s = p.one_of("label", {"positive", "neutral", "negative"}); !s.empty()) add("s.sentiment_label = %1", {s});
    if (auto s = p.time("from"); !s.empty()) add("n.published_at >= %1::timestamptz", {s});
    if (auto s = p.time("to"); !s.empty()) add("n.published_at < %1::timestamptz", {s});
    if (auto s = p.text("q", 200); !s.empty())
      add("to_tsvector('simple', n.title || ' ' || n.content) @@ plainto_tsquery('simple', %1)", {s});
    if (auto s = p.text("cursor", 48, &cursor_re); !s.empty()) {
      const auto dot = s.find('.');
      add("(n.published_at, n.id) < (to_timestamp(%1::bigint / 1000.0), %2::bigint)",
          {s.substr(0, dot), s.substr(dot + 1)});
    }
    const auto limit = p.limit(50);
    v.push_back(std::to_string(limit + 1));
    const std::string sql =
        "SELECT n.record_id, n.source, n.title, n.url, " ISO("n.published_at") ", n.keywords::text, "
        "s.sentiment_score, coalesce(s.sentiment_label, ''), coalesce(s.language, ''), "
        "coalesce(s.symbols, '[]')::text, (extract(epoch from n.published_at) * 1000)::bigint, n.id "
        "FROM raw_news n LEFT JOIN sentiment_analysis s ON s.news_id = n.record_id" +
        where + " ORDER BY n.published_at DESC, n.id DESC LIMIT $" + std::to_string(v.size());
    news_reply out;
    pool.with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      auto r = t.exec_params(sql, pqxx::prepare::make_dynamic_params(v));
      for (std::size_t i = 0; i < r.size(); ++i) {
        const auto& row = r[static_cast<pqxx::result::size_type>(i)];
        if (static_cast<std::int64_t>(i) == limit) {
          const auto& last = r[static_cast<pqxx::result::size_type>(i - 1)];
          out.next_cursor = last[10].as<std::string>() + "." + last[11].as<std::string>();
          break;
        }
        news_item n;
        n.id = row[0].as<std::string>();
        n.source = row[1].as<std::string>();
        n.title = row[2].as<std::string>();
        n.url = row[3].as<std::string>();
        n.published_at = row[4].as<std::string>();
        n.keywords.text = row[5].as<std::string>();
        n.score = opt(row[6]);
        n.label = row[7].as<std::string>();
        n.language = row[8].as<std::string>();
        n.symbols.text = row[9].as<std::string>();
        out.items.push_back(std::move(n));
      }
    });
    reply_json(res, out);
  }

  void fear_greed(const httplib::Request& req, httplib::Response& res) {
    const params p(req, conf.cluster.api.page_max);
    const auto limit = p.limit(30);
    fear_greed_reply out;
    pool.with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      for (const auto& row : t.exec_prepared("fear_greed", limit))
        out.history.push_back(
            {row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::string>(), row[3].as<std::string>()});
    });
    if (!out.history.empty()) out.latest = out.history.front();
    std::reverse(out.history.begin(), out.history.end());
    reply_json(res, out);
  }

  void sentiment(const httplib::Request& req, httplib::Response& res) {
    const params p(req, conf.cluster.api.page_max);
    const auto days = p.integer("days", 7, 1, 365);
    const std::string symbol = p.text("symbol", 32, &symbol_re);
    sentiment_reply out;
    pool.with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      for (const auto& row : t.exec_prepared("sentiment", days, symbol))
        out.items.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                             row[3].as<double>(), row[4].as<std::int64_t>(), row[5].as<std::int64_t>(),
                             row[6].as<std::int64_t>()});
    });
    reply_json(res, out);
  }

  void insights(const httplib::Request& req, httplib::Response& res) {
    const params p(req, conf.cluster.api.page_max);
    std::vector<std::string> v;
    std::string where;
    auto add = [&](const std::string& clause, const std::string& value) {
      v.push_back(value);
      where += (where.empty() ? " WHERE " : " AND ") + clause + std::to_string(v.size());
    };
    if (auto s = p.one_of("severity", {"info", "warning", "critical"}); !s.empty()) add("severity = $", s);
    if (auto s = p.text("symbol", 32, &symbol_re); !s.empty()) add("symbol = $", s);
    if (auto s = p.text("type", 64, &name_re); !s.empty()) add("insight_type = $", s);
    if (auto s = p.time("from"); !s.empty()) add("\"timestamp\" >= $", s);
    if (auto s = p.time("to"); !s.empty()) add("\"timestamp\" < $", s);
    v.push_back(std::to_string(p.limit(50)));
    const std::string sql =
        "SELECT record_id, coalesce(symbol, ''), insight_type, severity, \"interval\", description, "
        "description_en, value, related_news::text, " ISO("\"timestamp\"") " FROM crypto_insights" +
        where + " ORDER BY \"timestamp\" DESC, record_id LIMIT $" + std::to_string(v.size());
    insights_reply out;
    pool.with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      for (const auto& row : t.exec_params(sql, pqxx::prepare::make_dynamic_params(v))) {
        insight_item i;
        i.id = row[0].as<std::string>();
        i.symbol = row[1].as<std::string>();
        i.type = row[2].as<std::string>();
        i.severity = row[3].as<std::string>();
        i.interval = row[4].as<std::string>();
        i.text_ko = row[5].as<std::string>();
        i.text_en = row[6].as<std::string>();
        i.value = opt(row[7]);
        i.related_news.text = row[8].as<std::string>();
        i.timestamp = row[9].as<std::string>();
        out.items.push_back(std::move(i));
      }
    });
    reply_json(res, out);
  }

  void cluster(const httplib::Request&, httplib::Response& res) {
    std::string err;
    const std::string reply = control::request(conf.cluster.control, R"({"v":1,"type":"status"})", 2000, err);
    if (reply.empty()) throw refusal{503, "the scheduler does not answer: " + err, ""};
    cluster_reply out;
    out.scheduler.text = reply;
    for (const auto& [name, s] : conf.sources.sources)
      out.sources.push_back({name, s.kind, s.enabled, s.enabled ? "" : s.disabled_reason});
    kafka::properties props = conf.cluster.kafka.properties;
    props["bootstrap.servers"] = conf.cluster.kafka.bootstrap;
    props["client.id"] = "cointicker-serve";
    std::vector<std::string> groups;
    for (const char* a : {"crawler", "validator", "dedup", "hdfs-sink", "db-sink", "analyzer"})
      groups.push_back(conf.cluster.kafka.prefix + a);
    std::vector<kafka::topic_report> topics;
    if (!kafka::report_topics(props, groups, topics, out.topics_error)) topics.clear();
    for (const auto& t : topics) {
      if (!t.topic.name.starts_with(conf.cluster.kafka.prefix)) continue;
      topic_item ti{t.topic.name, static_cast<std::int64_t>(t.topic.partitions.size()), t.messages, t.end, {}};
      for (const auto& l : t.lags) ti.lags.push_back({l.group, l.lag});
      out.topics.push_back(std::move(ti));
    }
    reply_json(res, out);
  }

  void crawl(const httplib::Request& req, httplib::Response& res) {
    authorized(req);
    crawl_request body;
    msg::json_decoder dec;
    msg::decode_error derr;
    if (!dec.decode(req.body, body, derr)) throw refusal{400, "body: " + derr.to_string(), "body"};
    auto it = conf.sources.sources.find(body.source);
    if (it == conf.sources.sources.end()) throw refusal{400, "no source named '" + body.source + "'", "source"};
    if (!it->second.enabled && !body.force.value_or(false))
      throw refusal{409, "source '" + body.source + "' is disabled: " + it->second.disabled_reason, "source"};
    const int wait_ms = static_cast<int>(std::clamp<std::int64_t>(body.wait_ms.value_or(60'000), 0, 300'000));
    std::string err;
    std::unique_ptr<kafka::follower> reader;
    if (wait_ms > 0 && !(reader = crawler::open_report_reader(conf, "cointicker-serve", err)))
      throw refusal{503, "cannot read crawl reports: " + err, ""};
    std::map<std::string, std::string> pending;
    if (!crawler::publish_crawls(conf, "cointicker-serve", {body.source}, body.force.value_or(false), pending, err))
      throw refusal{503, "the crawl command was not published: " + err, ""};
    crawl_reply out;
    out.id = pending.begin()->first;
    out.source = body.source;
    if (reader)
      crawler::await_reports(*reader, pending, wait_ms, stopping, [&](const msg::crawl_report& r) { out.report = r; });
    spdlog::info("serve: crawl {} {}: {}", out.source, out.id, out.report ? out.report->status : "no report yet");
    reply_json(res, out, out.report || wait_ms == 0 ? 200 : 202);
  }

  void ctl(const httplib::Request& req, httplib::Response& res) {
    authorized(req);
    ctl_request body;
    msg::json_decoder dec;
    msg::decode_error derr;
    if (!dec.decode(req.body, body, derr)) throw refusal{400, "body: " + derr.to_string(), "body"};
    if (body.cmd != "pause" && body.cmd != "resume" && body.cmd != "drain")
      throw refusal{400, "cmd must be pause, resume or drain", "cmd"};
    const control::command c{
        .type = "ctl", .cmd = body.cmd, .node = body.node, .actor = body.actor, .instance = body.instance};
    if (auto problem = c.check(); !problem.empty()) throw refusal{400, problem, "body"};
    std::string json, err;
    msg::encode(c, json);
    const std::string reply = control::request(conf.cluster.control, json, 3000, err);
    if (reply.empty()) throw refusal{503, "the scheduler does not answer: " + err, ""};
    spdlog::info("serve: ctl {} node={} actor={} instance={}", c.cmd, c.node, c.actor, c.instance);
    res.status = reply.find("\"ok\":true") != std::string::npos ? 200 : 409;
    res.set_content(reply, "application/json");
  }

  void routes() {
    using R = const httplib::Request&;
    using W = httplib::Response&;
    http.Get("/api/v1/health", [](R, W res) { res.set_content(R"({"ok":true})", "application/json"); });
    http.Get("/api/v1/ready", guard([this](R, W res) {
               const std::string why = pool.check();
               if (!why.empty()) throw refusal{503, "the database is not reachable", ""};
               res.set_content(R"({"ok":true})", "application/json");
             }));
    http.Get("/api/v1/openapi.json", [](R, W res) { res.set_content(std::string(openapi_json), "application/json"); });
    http.Get("/api/v1/markets", cached([this](R q, W s) { markets(q, s); }));
    http.Get(R"(/api/v1/markets/([^/]+)/history)", cached([this](R q, W s) { history(q, s); }));
    http.Get("/api/v1/news", cached([this](R q, W s) { news(q, s); }));
    http.Get("/api/v1/fear-greed", cached([this](R q, W s) { fear_greed(q, s); }));
    http.Get("/api/v1/sentiment", cached([this](R q, W s) { sentiment(q, s); }));
    http.Get("/api/v1/insights", cached([this](R q, W s) { insights(q, s); }));
    http.Get("/api/v1/cluster", cached([this](R q, W s) { cluster(q, s); }));
    http.Post("/api/v1/actions/crawl", guard([this](R q, W s) { crawl(q, s); }));
    http.Post("/api/v1/actions/ctl", guard([this](R q, W s) { ctl(q, s); }));
    http.set_error_handler([](R req, W res) {
      if (res.status == 404 && req.path.rfind("/api/", 0) == 0) refuse(res, {404, "no such endpoint: " + req.path, ""});
    });
    std::string web = conf.cluster.api.web_root;
    if (web.empty()) {
      std::error_code ec;
      web = (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "web").string();
    }
    if (!http.set_mount_point("/", web))
      spdlog::warn("serve: no web UI at {} (build it: cmake --build build); the API works without it", web);
  }
};

api::api(const cfg::loaded_config& c, std::string conninfo, std::string token)
    : d_(std::make_unique<impl>(c, std::move(conninfo), std::move(token))) {
  d_->http.new_task_queue = [n = c.cluster.api.threads] { return new httplib::ThreadPool(n); };
  // A reply goes out in two writes (head, body): with Nagle's algorithm the
  // body waits for the client's delayed ACK of the head, 40 ms on Linux, on
  // every keep-alive request (measured: p50 43 ms for a 12 KB reply).
  d_->http.set_tcp_nodelay(true);
  // A keep-alive connection holds a worker thread, and cpp-httplib closes it
  // after 5 requests by default: each close is a reconnect that queues
  // behind the other connections. 100 requests per connection.
  d_->http.set_keep_alive_max_count(100);
  d_->routes();
}

api::~api() = default;

bool api::bind(std::string& err) {
  const std::string& l = d_->conf.cluster.api.listen;
  const auto colon = l.rfind(':');
  const std::string host = l.substr(0, colon);
  const int want = std::atoi(l.c_str() + colon + 1);
  port_ = want == 0 ? d_->http.bind_to_any_port(host) : (d_->http.bind_to_port(host, want) ? want : -1);
  if (port_ <= 0) {
    err = "cannot listen on " + l;
    return false;
  }
  widen_backlog(port_);
  return true;
}

// Debian's libcpp-httplib is compiled with a listen backlog of 5: under a
// burst of connects (browser tabs, a load test) the kernel drops SYNs and
// each client waits a second to retry (measured: p99 1.2 s at 50
// connections, ListenDrops counting up). Calling listen() again on the
// bound socket raises the backlog; the socket is found by its port.
void api::widen_backlog(int port) {
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::atoi(e.path().filename().c_str());
    sockaddr_storage a{};
    socklen_t n = sizeof a;
    int listening = 0;
    socklen_t ln = sizeof listening;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) != 0 || a.ss_family != AF_INET) continue;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ln) != 0 || !listening) continue;
    if (ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port) == port) ::listen(fd, 512);
  }
}

void api::serve() {
  d_->http.listen_after_bind();
  d_->returned.store(true);
}

void api::stop() {
  d_->stopping = true;
  pipeline::stop_http_server(d_->http, d_->returned);
}

}  // namespace ctk::serve
