// Typed settings for config/cluster.yaml (sources.yaml: source_settings.h).
// Defaults here are the defaults everywhere; config/reference.yaml is
// generated from these declarations (`cointicker config reference`).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"
#include "config/schema.h"
#include "config/source_settings.h"  // sources.yaml; schedule_settings

namespace ctk::cfg {

// A host name or address of this machine only: localhost, 127.x.x.x, ::1.
bool loopback_host(std::string_view host);
// A ZeroMQ endpoint only this machine can reach: tcp:// on a loopback
// host, ipc://, inproc://.
bool loopback_endpoint(std::string_view endpoint);

struct topics_settings {
  int control = 4;
  int raw = 16;
  int valid = 16;
  int deadletter = 4;
  int unique = 16;
  int insights = 8;
  int dedup_state = 16;
  int reports = 4;
  int analyzer_state = 16;

  static constexpr auto settings() {
    return std::tuple{
        setting("control", &topics_settings::control, "partitions of <prefix>control (crawl commands)"),
        setting("raw", &topics_settings::raw, "partitions of <prefix>raw (crawler output)"),
        setting("valid", &topics_settings::valid, "partitions of <prefix>valid (validator output)"),
        setting("deadletter", &topics_settings::deadletter, "partitions of <prefix>deadletter"),
        setting("unique", &topics_settings::unique, "partitions of <prefix>unique (dedup output)"),
        setting("insights", &topics_settings::insights, "partitions of <prefix>insights (analyzer output)"),
        setting("dedup_state", &topics_settings::dedup_state,
                "partitions of <prefix>dedup.state (keep equal to valid)"),
        setting("reports", &topics_settings::reports, "partitions of <prefix>reports (crawl reports, key = source)"),
        setting("analyzer_state", &topics_settings::analyzer_state,
                "partitions of <prefix>analyzer.state (keep equal to unique)")};
  }
  static std::optional<std::string> check(const topics_settings& t);
};

struct kafka_settings {
  std::string bootstrap = "127.0.0.1:9092";
  std::string prefix = "ctk.";
  std::map<std::string, std::string> properties;
  std::map<std::string, std::string> producer;
  std::map<std::string, std::string> consumer;
  topics_settings topics;

  static constexpr auto settings() {
    return std::tuple{
        setting("bootstrap", &kafka_settings::bootstrap, "comma-separated host:port list of Kafka brokers"),
        setting("prefix", &kafka_settings::prefix, "prefix of every topic and consumer group name"),
        setting("properties", &kafka_settings::properties,
                "librdkafka properties passed to every client (e.g. security.protocol)"),
        setting("producer", &kafka_settings::producer, "librdkafka properties for producers only"),
        setting("consumer", &kafka_settings::consumer, "librdkafka properties for consumers only"),
        setting("topics", &kafka_settings::topics, "partition counts used when topics are created")};
  }
};

struct broker_settings {
  std::string listen = "127.0.0.1:9092";
  std::string address_file;

  static constexpr auto settings() {
    return std::tuple{setting("listen", &broker_settings::listen,
                              "fixed address `cointicker broker` accepts bootstrap connections on (port 0: none)"),
                      setting("address_file", &broker_settings::address_file,
                              "if set, the embedded broker writes its bootstrap address there")};
  }
};

struct node_settings {
  std::string name;
  std::string host = "127.0.0.1";
  std::string role = "worker";
  std::map<std::string, int> actors;

  static constexpr auto settings() {
    return std::tuple{setting("name", &node_settings::name, "node name, used in actor identities"),
                      setting("host", &node_settings::host, "address the node is reached at"),
                      setting("role", &node_settings::role, "master | worker"),
                      setting("actors", &node_settings::actors, "actor name -> instance count on this node")};
  }
  static std::optional<std::string> check(const node_settings& n);
};

struct hdfs_settings {
  std::string url = "file://var/hdfs";
  std::string user = "cointicker";
  std::string format = "jsonl";
  std::string avro_codec = "null";
  std::int64_t avro_block_bytes = 1LL << 20;
  std::int64_t rotate_records = 100'000;
  std::int64_t rotate_bytes = 128LL << 20;
  duration rotate_after = "60s";
  duration timeout = "30s";
  int retries = 4;

  static constexpr auto settings() {
    return std::tuple{
        setting("url", &hdfs_settings::url,
                "webhdfs://namenode:9870[/base] or file://PATH (relative to the working dir unless it starts with /)"),
        setting("user", &hdfs_settings::user, "WebHDFS user.name"),
        setting("format", &hdfs_settings::format,
                "file format: jsonl (JSON Lines, one envelope per line) or avro (Avro object container files, "
                "libavro; schema in actors/hdfs_sink/README.md)"),
        setting("avro_codec", &hdfs_settings::avro_codec, "avro: block codec, null | deflate | lzma | snappy"),
        setting("avro_block_bytes", &hdfs_settings::avro_block_bytes,
                "avro: block size; a record larger than this is dead-lettered"),
        setting("rotate_records", &hdfs_settings::rotate_records,
                "commit a partition's open files when one of them holds this many records"),
        setting("rotate_bytes", &hdfs_settings::rotate_bytes, "... or this many bytes"),
        setting("rotate_after", &hdfs_settings::rotate_after,
                "... or when its oldest open file is this old (timer-driven: idle topics get committed too)"),
        setting("timeout", &hdfs_settings::timeout, "WebHDFS: total time allowed for one HTTP request"),
        setting("retries", &hdfs_settings::retries,
                "WebHDFS: retries of a failed request (connection errors, 5xx) before the sink backs off")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("timeout_ms", "timeout", &hdfs_settings::timeout, 1)};
  }
  static std::optional<std::string> check(const hdfs_settings& h);
};

struct postgres_settings {
  std::string dsn;
  std::string password_file;
  std::int64_t batch_rows = 20'000;
  duration batch_after = "100ms";
  duration connect_timeout = "5s";

  static constexpr auto settings() {
    return std::tuple{
        setting("dsn", &postgres_settings::dsn, "libpq connection string; empty: `up` starts a private server"),
        setting("password_file", &postgres_settings::password_file,
                "file holding the password (else CTK_POSTGRES__PASSWORD); never logged"),
        setting("batch_rows", &postgres_settings::batch_rows,
                "db-sink writes one transaction when this many rows are waiting ..."),
        setting("batch_after", &postgres_settings::batch_after, "... or when the oldest waiting row is this old"),
        setting("connect_timeout", &postgres_settings::connect_timeout,
                "libpq connect_timeout (whole seconds), unless the DSN sets one")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("batch_ms", "batch_after", &postgres_settings::batch_after, 1),
                      cfg::renamed("connect_timeout_s", "connect_timeout", &postgres_settings::connect_timeout, 1000)};
  }
  static std::optional<std::string> check(const postgres_settings& p);
};

struct control_settings {
  std::string router = "tcp://127.0.0.1:5555";
  std::string pub = "tcp://127.0.0.1:5556";
  duration heartbeat = "1s";
  duration dead_after = "5s";
  std::string curve_dir;
  bool insecure = false;

  static constexpr auto settings() {
    return std::tuple{setting("router", &control_settings::router, "scheduler ROUTER endpoint (requests, heartbeats)"),
                      setting("pub", &control_settings::pub, "scheduler PUB endpoint (broadcast commands)"),
                      setting("heartbeat", &control_settings::heartbeat, "actor heartbeat period"),
                      setting("dead_after", &control_settings::dead_after,
                              "the scheduler marks an actor dead after this long without a heartbeat"),
                      setting("curve_dir", &control_settings::curve_dir,
                              "folder with CURVE keys (server.key/.pub, client.key/.pub; `cointicker ctl keygen DIR`); "
                              "empty: no authentication (loopback endpoints only, unless insecure)"),
                      setting("insecure", &control_settings::insecure,
                              "true: allow a non-loopback router/pub without CURVE keys (anyone on that network can "
                              "stop every actor)")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("heartbeat_ms", "heartbeat", &control_settings::heartbeat, 1),
                      cfg::renamed("dead_after_ms", "dead_after", &control_settings::dead_after, 1)};
  }
  static std::optional<std::string> check(const control_settings& c);
};

struct metrics_settings {
  std::string bind = "127.0.0.1";
  int base_port = 9400;

  static constexpr auto settings() {
    return std::tuple{
        setting("bind", &metrics_settings::bind, "address of the Prometheus /metrics endpoints"),
        setting("base_port", &metrics_settings::base_port,
                "metrics port of `run`; `up` and `node` give their children base_port, base_port+1, … in the order "
                "of the node's actors (kept across restarts; `config prometheus` scrapes these); a taken port: a "
                "free one with a warning, shown by `status` and `doctor`; 0: a free port per process")};
  }
};

struct api_settings {
  std::string listen = "127.0.0.1:8080";
  std::string token_file;
  int pool = 4;
  int threads = 64;
  duration cache_ttl = "1s";
  duration statement_timeout = "5s";
  int page_max = 200;
  std::string web_root;

  static constexpr auto settings() {
    return std::tuple{
        setting("listen", &api_settings::listen, "address of `cointicker serve` (REST API and web UI)"),
        setting("token_file", &api_settings::token_file,
                "file holding the bearer token that POST actions need (crawl, pause/resume/drain); empty: actions "
                "are refused; the token is never logged"),
        setting("pool", &api_settings::pool, "read-only PostgreSQL connections"),
        setting("threads", &api_settings::threads,
                "HTTP worker threads; a keep-alive connection holds one while it is open, so more than the "
                "clients that stay connected (browser tabs, a load test)"),
        setting("cache_ttl", &api_settings::cache_ttl,
                "a GET's answer is reused this long for the same URL (0: never); the data changes at crawl pace"),
        setting("statement_timeout", &api_settings::statement_timeout,
                "a query running longer is cancelled (the request gets 503)"),
        setting("page_max", &api_settings::page_max, "the largest page a list endpoint returns"),
        setting("web_root", &api_settings::web_root,
                "the built web UI; empty: `web` next to the binary (the build puts it there)")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("cache_ms", "cache_ttl", &api_settings::cache_ttl, 1),
                      cfg::renamed("statement_timeout_ms", "statement_timeout", &api_settings::statement_timeout, 1)};
  }
  static std::optional<std::string> check(const api_settings& a);
};

struct runtime_settings {
  int batch_max_messages = 1000;
  duration batch_max_wait = "100ms";
  duration retry_initial = "100ms";
  duration retry_max = "30s";
  duration delivery_timeout = "30s";
  int max_inflight_batches = 16;
  std::string log_level = "info";
  duration watchdog = "5m";

  static constexpr auto settings() {
    return std::tuple{
        setting("batch_max_messages", &runtime_settings::batch_max_messages, "most messages in one batch"),
        setting("batch_max_wait", &runtime_settings::batch_max_wait, "longest time spent filling one batch"),
        setting("retry_initial", &runtime_settings::retry_initial, "first backoff when a handler says retry"),
        setting("retry_max", &runtime_settings::retry_max, "backoff cap (retries go on until success)"),
        setting("delivery_timeout", &runtime_settings::delivery_timeout,
                "how long produced output may take to be acknowledged before the batch is redone"),
        setting("max_inflight_batches", &runtime_settings::max_inflight_batches,
                "batches handled ahead while earlier output awaits acknowledgement (1 = strictly sequential)"),
        setting("log_level", &runtime_settings::log_level, "trace | debug | info | warn | error"),
        setting("watchdog", &runtime_settings::watchdog,
                "`node` and `up` kill and restart an actor whose loop has not come round for this long (a crawl "
                "inside one loop may take minutes); 0: never")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("batch_max_ms", "batch_max_wait", &runtime_settings::batch_max_wait, 1),
                      cfg::renamed("retry_initial_ms", "retry_initial", &runtime_settings::retry_initial, 1),
                      cfg::renamed("retry_max_ms", "retry_max", &runtime_settings::retry_max, 1),
                      cfg::renamed("delivery_timeout_ms", "delivery_timeout", &runtime_settings::delivery_timeout, 1)};
  }
  static std::optional<std::string> check(const runtime_settings& r);
};

struct dedup_settings {
  duration ttl = "7d";
  std::int64_t max_ids_per_partition = 2'000'000;

  static constexpr auto settings() {
    return std::tuple{
        setting("ttl", &dedup_settings::ttl, "how long an id is remembered (a duplicate later than that passes)"),
        setting("max_ids_per_partition", &dedup_settings::max_ids_per_partition,
                "memory bound of one partition's seen-set (about 50 bytes per id)")};
  }
  static std::optional<std::string> check(const dedup_settings& d);
};

struct crawler_settings {
  std::string user_agent = "cointicker/0.1 (+https://github.com/cointicker; crawler)";
  std::int64_t max_body_bytes = 8LL << 20;
  duration connect_timeout = "5s";
  int max_redirects = 5;
  int max_connections_per_host = 4;
  int max_connections = 64;
  duration backoff_initial = "500ms";
  duration backoff_max = "1m";
  duration retry_after_max = "10m";
  int deadletter_body_bytes = 64 << 10;
  std::string replay;

  static constexpr auto settings() {
    return std::tuple{
        setting("user_agent", &crawler_settings::user_agent,
                "User-Agent of every request (a source's headers may override it)"),
        setting("max_body_bytes", &crawler_settings::max_body_bytes,
                "a response body larger than this is refused (the page is dead-lettered, not parsed)"),
        setting("connect_timeout", &crawler_settings::connect_timeout, "TCP + TLS connect timeout"),
        setting("max_redirects", &crawler_settings::max_redirects, "redirects followed per request"),
        setting("max_connections_per_host", &crawler_settings::max_connections_per_host,
                "requests in flight per host (a source's max_connections overrides it for its hosts)"),
        setting("max_connections", &crawler_settings::max_connections, "requests in flight in one crawler process"),
        setting("backoff_initial", &crawler_settings::backoff_initial,
                "first retry delay after a retryable failure (doubles per attempt, with jitter)"),
        setting("backoff_max", &crawler_settings::backoff_max, "retry delay cap"),
        setting("retry_after_max", &crawler_settings::retry_after_max,
                "a Retry-After longer than this fails the request instead of waiting"),
        setting("deadletter_body_bytes", &crawler_settings::deadletter_body_bytes,
                "how much of a page that failed to parse goes into its dead letter"),
        setting("replay", &crawler_settings::replay,
                "http://127.0.0.1:PORT of a replay server: every request goes there (offline runs and tests)")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("connect_timeout_ms", "connect_timeout", &crawler_settings::connect_timeout, 1),
                      cfg::renamed("backoff_initial_ms", "backoff_initial", &crawler_settings::backoff_initial, 1),
                      cfg::renamed("backoff_max_ms", "backoff_max", &crawler_settings::backoff_max, 1),
                      cfg::renamed("retry_after_max_s", "retry_after_max", &crawler_settings::retry_after_max, 1000)};
  }
  static std::optional<std::string> check(const crawler_settings& c);
};

struct scheduler_settings {
  duration overlap_timeout = "15m";

  static constexpr auto settings() {
    return std::tuple{setting("overlap_timeout", &scheduler_settings::overlap_timeout,
                              "a source whose last crawl has not reported for this long is fired anyway")};
  }
  static std::optional<std::string> check(const scheduler_settings& s);
};

// Batch jobs the scheduler runs as child processes on its node (actors/scheduler/jobs.h).
struct jobs_settings {
  bool enabled = true;
  schedule_settings aggregate_today{"5m"};
  schedule_settings aggregate_yesterday{{}, "00:10"};

  static constexpr auto settings() {
    return std::tuple{
        setting("enabled", &jobs_settings::enabled, "false: the scheduler runs no job"),
        setting("aggregate_today", &jobs_settings::aggregate_today,
                "when `cointicker aggregate --day TODAY` runs (the UTC day)"),
        setting("aggregate_yesterday", &jobs_settings::aggregate_yesterday,
                "when `cointicker aggregate --day YESTERDAY` runs: once after midnight, for the day's last records")};
  }
};

struct analyzer_settings {
  std::vector<duration> intervals{"5m", "1h"};
  duration grace = "2m";
  duration snapshot_interval = "1s";
  int sma_short = 20;
  int sma_long = 50;
  int ema_short = 20;
  int ema_long = 50;
  int rsi_period = 14;
  int macd_fast = 12;
  int macd_slow = 26;
  int macd_signal = 9;
  int bollinger_period = 20;
  double bollinger_k = 2.0;
  double rsi_overbought = 70;
  double rsi_oversold = 30;
  double price_move_pct = 5;
  int price_move_candles = 12;
  double volume_multiple = 3;
  int volume_average = 20;
  std::int64_t extreme_fear = 20;
  std::int64_t extreme_greed = 80;
  double sentiment_threshold = 0.1;
  duration news_window = "6h";
  duration news_lateness = "15m";
  std::int64_t news_min_mentions = 3;
  double news_mood_threshold = 0.25;
  double divergence_move_pct = 3;
  std::int64_t max_pending_candles = 2000;
  std::string korean_lexicon = "lexicons/ko.tsv";
  std::string english_lexicon = "../deploy/npm/node_modules/afinn-165-financialmarketnews/index.js";
  std::string english_extra = "lexicons/en.tsv";
  std::string symbols = "lexicons/symbols.tsv";
  std::int64_t max_text_bytes = 4096;

  static constexpr auto settings() {
    return std::tuple{
        setting("intervals", &analyzer_settings::intervals, "candle intervals (5m, 15m, 1h, 1d, ...)"),
        setting(
            "grace", &analyzer_settings::grace,
            "a candle of a quiet symbol closes this long after its end (wall clock) once no record came for as long"),
        setting("snapshot_interval", &analyzer_settings::snapshot_interval,
                "a symbol's state goes to analyzer.state at most this often (and when it is new, and on stop); "
                "longer: less output, more replay after a crash"),
        setting("sma_short", &analyzer_settings::sma_short, "short simple moving average period (candles)"),
        setting("sma_long", &analyzer_settings::sma_long, "long simple moving average period"),
        setting("ema_short", &analyzer_settings::ema_short, "short exponential moving average period"),
        setting("ema_long", &analyzer_settings::ema_long, "long exponential moving average period"),
        setting("rsi_period", &analyzer_settings::rsi_period, "RSI period (Wilder's smoothing)"),
        setting("macd_fast", &analyzer_settings::macd_fast, "MACD fast EMA period"),
        setting("macd_slow", &analyzer_settings::macd_slow, "MACD slow EMA period"),
        setting("macd_signal", &analyzer_settings::macd_signal, "MACD signal EMA period"),
        setting("bollinger_period", &analyzer_settings::bollinger_period, "Bollinger middle band SMA period"),
        setting("bollinger_k", &analyzer_settings::bollinger_k,
                "Bollinger band width in (population) standard deviations"),
        setting("rsi_overbought", &analyzer_settings::rsi_overbought, "insight when RSI closes at or above this"),
        setting("rsi_oversold", &analyzer_settings::rsi_oversold, "insight when RSI closes at or below this"),
        setting("price_move_pct", &analyzer_settings::price_move_pct,
                "insight when the close moved this many percent within price_move_candles"),
        setting("price_move_candles", &analyzer_settings::price_move_candles, "window of the price-move insight"),
        setting("volume_multiple", &analyzer_settings::volume_multiple,
                "insight when a candle's volume is this many times the average of the previous volume_average"),
        setting("volume_average", &analyzer_settings::volume_average, "candles averaged for the volume insight"),
        setting("extreme_fear", &analyzer_settings::extreme_fear,
                "fear & greed at or below this: extreme fear insight"),
        setting("extreme_greed", &analyzer_settings::extreme_greed,
                "fear & greed at or above this: extreme greed insight"),
        setting("sentiment_threshold", &analyzer_settings::sentiment_threshold,
                "a news score at or above this is positive, at or below minus this negative"),
        setting("news_window", &analyzer_settings::news_window,
                "a candle's news: items about its symbol published within this long before the candle's end"),
        setting("news_lateness", &analyzer_settings::news_lateness,
                "a news item this far behind its source's newest is late (not in news insights); candle insights "
                "wait until every news source is this far past the candle's end"),
        setting("news_min_mentions", &analyzer_settings::news_min_mentions,
                "news items in the window a symbol needs for a news-mood or divergence insight"),
        setting("news_mood_threshold", &analyzer_settings::news_mood_threshold,
                "insight when a symbol's mean news score in the window crosses this (or minus this)"),
        setting("divergence_move_pct", &analyzer_settings::divergence_move_pct,
                "divergence insight: price up this many percent over price_move_candles while the news mood is "
                "negative, or down while it is positive"),
        setting("max_pending_candles", &analyzer_settings::max_pending_candles,
                "closed candles of one symbol and interval that may wait for news; beyond, the oldest is judged on "
                "the news known so far"),
        setting("korean_lexicon", &analyzer_settings::korean_lexicon,
                "Korean lexicon (word<TAB>weight -5..5; relative to the config folder)"),
        setting("english_lexicon", &analyzer_settings::english_lexicon,
                "AFINN-165 financial market news lexicon (npm afinn-165-financialmarketnews, index.js; installed by "
                "deploy/setup.sh)"),
        setting("english_extra", &analyzer_settings::english_extra,
                "English words added to or overriding the AFINN list (crypto vocabulary; word<TAB>weight)"),
        setting("symbols", &analyzer_settings::symbols, "names and tickers that map to a symbol (name<TAB>SYMBOL)"),
        setting("max_text_bytes", &analyzer_settings::max_text_bytes,
                "bytes of a news body read for sentiment (the title always counts)")};
  }
  static std::optional<std::string> check(const analyzer_settings& a);
};

struct cluster_settings {
  std::vector<node_settings> nodes;
  kafka_settings kafka;
  broker_settings broker;
  hdfs_settings hdfs;
  postgres_settings postgres;
  control_settings control;
  metrics_settings metrics;
  runtime_settings runtime;
  dedup_settings dedup;
  crawler_settings crawler;
  scheduler_settings scheduler;
  jobs_settings jobs;
  analyzer_settings analyzer;
  api_settings api;

  static constexpr auto settings() {
    return std::tuple{
        setting("nodes", &cluster_settings::nodes, "the machines and the actors each one runs"),
        setting("kafka", &cluster_settings::kafka, "Kafka connection and topics"),
        setting("broker", &cluster_settings::broker, "the embedded broker (`cointicker broker`)"),
        setting("hdfs", &cluster_settings::hdfs, "where hdfs-sink writes"),
        setting("postgres", &cluster_settings::postgres, "where db-sink writes"),
        setting("control", &cluster_settings::control, "ZeroMQ control plane"),
        setting("metrics", &cluster_settings::metrics, "Prometheus endpoints"),
        setting("runtime", &cluster_settings::runtime, "actor loop: batching and retries"),
        setting("dedup", &cluster_settings::dedup, "the dedup actor"),
        setting("crawler", &cluster_settings::crawler, "the crawler actor's HTTP fetcher"),
        setting("scheduler", &cluster_settings::scheduler, "the scheduler actor"),
        setting("jobs", &cluster_settings::jobs, "batch jobs the scheduler runs (the /cleaned aggregates)"),
        setting("analyzer", &cluster_settings::analyzer,
                "the analyzer actor: candles, indicators, sentiment, insights"),
        setting("api", &cluster_settings::api, "`cointicker serve`: the REST API and the web UI")};
  }
};

}  // namespace ctk::cfg
