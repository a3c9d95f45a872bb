#include "actors/db_sink/db_sink.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "actors/db_sink/postgres.h"
#include "actors/db_sink/schema.h"
#include "messages/analysis.h"
#include "messages/envelope.h"

namespace ctk::db {

namespace {

constexpr std::size_t max_rejects_per_write = 100;

struct systematic_refusal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using clock = std::chrono::steady_clock;
using tp_key = std::pair<std::string, std::int32_t>;

// Where a buffered row came from: for the offsets and for a dead letter.
struct origin {
  std::string topic;
  std::int32_t partition;
  std::int64_t offset;
  std::string key;
  std::string value;
};

// Rows waiting for one table, copied through a session-local staging table.
class table_base {
 public:
  table_base(std::string name, std::vector<std::string> cols) : name_(std::move(name)), cols_(std::move(cols)) {
    for (std::size_t i = 0; i < cols_.size(); ++i) col_list_ += (i ? ", " : "") + cols_[i];
  }
  virtual ~table_base() = default;
  const std::string& name() const { return name_; }
  std::string stage() const { return "stage_" + name_; }
  std::vector<std::size_t> refs;  // index into the sink's origins, per row

  virtual std::size_t size() const = 0;
  virtual void clear() = 0;
  // Keeps the rows whose origin passes `keep`; `remap` gives new origin indexes.
  virtual void retain(const std::vector<long>& remap) = 0;

  // The copied columns with their types and no constraints: a refused value
  // is refused by the INSERT, inside the transaction, with the table's message.
  std::string create_stage_sql() const {
    return "CREATE TEMP TABLE IF NOT EXISTS " + stage() + " ON COMMIT DELETE ROWS AS SELECT " + col_list_ + " FROM " +
           name_ + " WITH NO DATA";
  }
  // COPY rows [lo, hi) straight into the table: the common case, where no
  // row's id is stored yet (dedup runs upstream). A stored id (a batch
  // redone after a crash) fails it with a unique violation.
  std::size_t write_direct(pqxx::transaction_base& t, std::size_t lo, std::size_t hi) {
    pqxx::stream_to s(t, name_, cols_);
    copy(s, lo, hi);
    s.complete();
    return hi - lo;
  }
  // COPY rows [lo, hi) into the staging table, then one INSERT … SELECT.
  // Returns the rows inserted (duplicates of stored ids are not).
  // The staging table is emptied first: a savepoint may have filled it.
  std::size_t write(pqxx::transaction_base& t, std::size_t lo, std::size_t hi) {
    t.exec("DELETE FROM " + stage());
    {
      pqxx::stream_to s(t, stage(), cols_);
      copy(s, lo, hi);
      s.complete();
    }
    auto r = t.exec("INSERT INTO " + name_ + " (" + col_list_ + ") SELECT " + col_list_ + " FROM " + stage() +
                    " ON CONFLICT (record_id) DO NOTHING");
    return static_cast<std::size_t>(r.affected_rows());
  }

 protected:
  virtual void copy(pqxx::stream_to& s, std::size_t lo, std::size_t hi) = 0;

 private:
  std::string name_;
  std::vector<std::string> cols_;
  std::string col_list_;
};

// Cell: std::string, or std::optional<std::string> for columns that may be NULL.
template <std::size_t N, class Cell = std::string>
class table final : public table_base {
 public:
  using row = std::array<Cell, N>;
  table(std::string name, std::vector<std::string> cols) : table_base(std::move(name), std::move(cols)) {}
  void add(row r, std::size_t ref) {
    rows_.push_back(std::move(r));
    refs.push_back(ref);
  }
  std::size_t size() const override { return rows_.size(); }
  void clear() override {
    rows_.clear();
    refs.clear();
  }
  void retain(const std::vector<long>& remap) override {
    std::size_t w = 0;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const long to = remap[refs[i]];
      if (to < 0) continue;
      rows_[w] = std::move(rows_[i]);
      refs[w] = static_cast<std::size_t>(to);
      ++w;
    }
    rows_.resize(w);
    refs.resize(w);
  }

 private:
  void copy(pqxx::stream_to& s, std::size_t lo, std::size_t hi) override {
    for (std::size_t i = lo; i < hi; ++i) s << rows_[i];
  }
  std::vector<row> rows_;
};

std::string number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

using cell = std::optional<std::string>;

cell number(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return number(*v);
}

std::string json_array(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& s : items) w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

// The first line of a PostgreSQL message plus its SQLSTATE.
std::string db_message(const std::exception& e) {
  std::string what = e.what();
  if (auto nl = what.find('\n'); nl != std::string::npos) {
    // Keep the CONTEXT/DETAIL lines (they name the column), drop the query.
    std::string rest = what.substr(nl + 1);
    what = what.substr(0, nl);
    for (std::size_t p = 0; p < rest.size();) {
      auto q = rest.find('\n', p);
      std::string line = rest.substr(p, q == std::string::npos ? std::string::npos : q - p);
      if (line.starts_with("DETAIL") || line.starts_with("CONTEXT")) what += "; " + line;
      if (q == std::string::npos) break;
      p = q + 1;
    }
  }
  if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e); s && !s->sqlstate().empty())
    what = "SQLSTATE " + s->sqlstate() + ": " + what;
  return what;
}

// Each kind's row, in the order of its table's columns (batch below).
std::array<std::string, 9> row_of(const msg::envelope& e, const msg::market_data& d) {
  return {e.id,        e.source,     d.symbol, number(d.price), number(d.volume_24h), number(d.change_24h),
          d.timestamp, e.fetched_at, e.trace};
}
std::array<std::string, 9> row_of(const msg::envelope& e, const msg::news_data& d) {
  return {e.id, e.source, d.title, d.url, d.content, d.published_at, json_array(d.keywords), e.fetched_at, e.trace};
}
std::array<std::string, 7> row_of(const msg::envelope& e, const msg::fear_greed_data& d) {
  return {e.id, e.source, std::to_string(d.value), d.classification, d.timestamp, e.fetched_at, e.trace};
}
std::array<cell, 23> row_of(const msg::envelope& e, const msg::indicator_data& d) {
  return {e.id,
          d.symbol,
          d.interval,
          d.candle_time,
          number(d.open),
          number(d.high),
          number(d.low),
          number(d.close),
          number(d.volume),
          std::to_string(d.records),
          number(d.sma_short),
          number(d.sma_long),
          number(d.ema_short),
          number(d.ema_long),
          number(d.rsi),
          number(d.macd),
          number(d.macd_signal),
          number(d.macd_hist),
          number(d.bb_upper),
          number(d.bb_middle),
          number(d.bb_lower),
          number(d.bb_percent_b),
          number(d.bb_bandwidth)};
}
std::array<std::string, 10> row_of(const msg::envelope& e, const msg::sentiment_data& d) {
  return {e.id,
          d.news_id,
          d.news_source,
          number(d.score),
          d.label,
          number(d.confidence),
          d.language,
          json_array(d.symbols),
          std::to_string(d.hits),
          d.published_at};
}
std::array<cell, 10> row_of(const msg::envelope& e, const msg::insight_data& d) {
  return {e.id,
          d.symbol.empty() ? cell{} : cell{d.symbol},
          d.type,
          d.text_ko,
          d.text_en,
          number(d.value),
          d.severity,
          d.interval,
          json_array(d.related_news),
          d.at};
}

// Rows gathered for one transaction, with where they came from.
struct batch {
  table<9> news{
      "raw_news",
      {"record_id", "source", "title", "url", "content", "published_at", "keywords", "collected_at", "trace"}};
  table<9> market{
      "market_trends",
      {"record_id", "source", "symbol", "price", "volume_24h", "change_24h", "\"timestamp\"", "collected_at", "trace"}};
  table<7> fear_greed{"fear_greed_index",
                      {"record_id", "source", "value", "classification", "\"timestamp\"", "collected_at", "trace"}};
  // The analyzer's records (insights topic).
  table<23, cell> indicators{
      "technical_indicators",
      {"record_id",   "symbol",    "\"interval\"", "\"timestamp\"", "open",      "high",         "low",         "close",
       "volume",      "records",   "sma_short",    "sma_long",      "ema_short", "ema_long",     "rsi",         "macd",
       "macd_signal", "macd_hist", "bb_upper",     "bb_middle",     "bb_lower",  "bb_percent_b", "bb_bandwidth"}};
  table<10> sentiment{"sentiment_analysis",
                      {"record_id", "news_id", "source", "sentiment_score", "sentiment_label", "confidence", "language",
                       "symbols", "hits", "\"timestamp\""}};
  table<10, cell> insights{"crypto_insights",
                           {"record_id", "symbol", "insight_type", "description", "description_en", "value", "severity",
                            "\"interval\"", "related_news", "\"timestamp\""}};
  std::vector<origin> origins;
  std::map<tp_key, std::int64_t> first;  // per partition: the first offset in this batch
  std::map<tp_key, std::int64_t> next;   // per partition: the offset after the last one
  clock::time_point oldest;

  std::array<table_base*, 6> tables() { return {&news, &market, &fear_greed, &indicators, &sentiment, &insights}; }
  bool empty() const { return origins.empty(); }
  // Drops the rows of partitions that left.
  void drop(const std::set<tp_key>& gone) {
    std::vector<long> remap(origins.size(), -1);
    std::vector<origin> kept;
    for (std::size_t i = 0; i < origins.size(); ++i)
      if (!gone.count({origins[i].topic, origins[i].partition})) {
        remap[i] = static_cast<long>(kept.size());
        kept.push_back(std::move(origins[i]));
      }
    origins = std::move(kept);
    for (auto* t : tables()) t->retain(remap);
    for (const auto& tp : gone) {
      first.erase(tp);
      next.erase(tp);
    }
  }
};

struct rejection {
  std::size_t ref;
  std::string reason;
};

// The database work runs on a writer thread, one transaction at a time,
// while the runner goes on consuming and converting the next batch: the
// transaction's cost overlaps with Kafka and decoding instead of adding to
// them. durable() keeps Kafka's commit behind the database either way.
class db_sink final : public pipeline::actor {
 public:
  explicit db_sink(const pipeline::actor_context& ctx)
      : settings_(ctx.config.cluster.postgres), group_(ctx.config.cluster.kafka.prefix + "db-sink") {
    std::string err;
    auto ci = connection_string(settings_, err);
    if (!ci) throw std::runtime_error(err);
    conninfo_ = *ci;
    if (settings_.dsn.empty())
      throw std::runtime_error(
          "postgres.dsn is empty: give a DSN (host=... dbname=...) in cluster.yaml or "
          "CTK_POSTGRES__DSN; `cointicker up` starts a private server and sets it");
    spdlog::info("db-sink: PostgreSQL at {}; a transaction every {} rows or {} ms", redact(conninfo_),
                 settings_.batch_rows, settings_.batch_ms);
    buffer_ = std::make_unique<batch>();
    writer_ = std::thread([this] { writer_loop(); });
  }

  ~db_sink() override {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }

  std::string name() const override { return "db-sink"; }
  std::vector<std::string> inputs() const override { return {"unique", "insights"}; }
  bool healthy() const override { return !sick_.load(); }

  void register_metrics(pipeline::metrics_registry& m) override {
    rows_written_ = &m.counter("ctk_sink_rows_written_total", "rows inserted (duplicates of stored ids excluded)");
    rows_seen_ = &m.counter("ctk_sink_rows_total", "rows sent to the database, duplicates included");
    writes_ = &m.counter("ctk_sink_writes_total", "transactions committed");
    write_us_ = &m.counter("ctk_sink_write_microseconds_total", "time spent in committed write transactions");
    errors_ = &m.counter("ctk_sink_write_errors_total", "write attempts that failed (database down, refused data)");
    rejected_ = &m.counter("ctk_sink_rows_rejected_total", "rows the database refused (dead-lettered)");
    m.gauge("ctk_sink_last_batch_rows", "rows in the last committed transaction",
            [this] { return static_cast<double>(last_batch_.load()); });
    upserted_ = &m.counter("ctk_sink_upserted_tables_total",
                           "table writes that met stored ids and went through staging + upsert");
    m.gauge("ctk_sink_buffered_rows", "rows waiting for a transaction or in one",
            [this] { return static_cast<double>(buffered_.load()); });
  }

  void on_assign(std::vector<kafka::topic_partition>& parts) override {
    // The offsets stored with the rows decide where to resume. When the
    // database cannot be asked now, Kafka's committed offset is used: it is
    // never ahead of the database (durable() caps it), and rows read twice
    // are dropped by ON CONFLICT.
    wait_idle();  // the connection is the writer's; it is idle now
    std::string err;
    if (!ready(err)) {
      spdlog::warn("db-sink: cannot read stored offsets ({}); starting from Kafka's committed offsets", err);
      return;
    }
    try {
      pqxx::work w(*conn_);
      auto r =
          w.exec("SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = " + w.quote(group_));
      std::map<tp_key, std::int64_t> stored;
      for (const auto& row : r) stored[{row[0].as<std::string>(), row[1].as<int>()}] = row[2].as<std::int64_t>();
      for (auto& p : parts)
        if (auto it = stored.find({p.topic, p.partition}); it != stored.end()) {
          if (p.offset != it->second)
            spdlog::info("db-sink: {}/{} resumes at {} (stored in PostgreSQL; Kafka said {})", p.topic, p.partition,
                         it->second, p.offset);
          p.offset = it->second;
        }
    } catch (const std::exception& e) {
      spdlog::warn("db-sink: cannot read stored offsets ({}); starting from Kafka's committed offsets", db_message(e));
      drop_connection_if_broken(e);
    }
  }

  void on_revoke(const std::vector<kafka::topic_partition>& parts) override {
    wait_idle();
    std::set<tp_key> gone;
    for (const auto& p : parts) gone.insert({p.topic, p.partition});
    buffer_->drop(gone);
    if (job_ && state_ == job_state::failed) job_->drop(gone);  // a failed job is retried without them
    count_buffered();
  }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter&) override {
    msg::envelope env;
    msg::decode_error err;
    if (!decoder_.decode(in.value, env, err))
      return pipeline::outcome::dead_letter("decode", "envelope: " + err.to_string());
    if (env.id.size() != 32) return pipeline::outcome::dead_letter("id", "envelope id must be 32 hex characters");
    batch& b = *buffer_;
    const std::size_t ref = b.origins.size();
    std::string why;
    bool ok = false;
    if (env.kind == "market")
      ok = add_row<msg::market_data>(env, b.market, ref, why);
    else if (env.kind == "news")
      ok = add_row<msg::news_data>(env, b.news, ref, why);
    else if (env.kind == "fear_greed")
      ok = add_row<msg::fear_greed_data>(env, b.fear_greed, ref, why);
    else if (env.kind == "indicator")
      ok = add_row<msg::indicator_data>(env, b.indicators, ref, why);
    else if (env.kind == "sentiment")
      ok = add_row<msg::sentiment_data>(env, b.sentiment, ref, why);
    else if (env.kind == "insight")
      ok = add_row<msg::insight_data>(env, b.insights, ref, why);
    else
      return pipeline::outcome::dead_letter(
          "kind", "kind '" + env.kind + "' has no table (market, news, fear_greed, indicator, sentiment, insight)");
    if (!ok) return pipeline::outcome::dead_letter("decode", why);
    b.origins.push_back({std::string(in.topic), in.partition, in.offset, std::string(in.key), std::string(in.value)});
    const tp_key tp{std::string(in.topic), in.partition};
    b.first.try_emplace(tp, in.offset);
    b.next[tp] = in.offset + 1;
    if (b.origins.size() == 1) b.oldest = clock::now();
    return pipeline::outcome::ok();
  }

  // Decodes `data` as Data and adds its row (row_of) to the table.
  template <class Data, class Table>
  bool add_row(const msg::envelope& env, Table& table, std::size_t ref, std::string& why) {
    Data d;
    msg::decode_error err;
    if (!decoder_.decode(env.data.text, d, err)) {
      why = "data: " + err.to_string();
      return false;
    }
    table.add(row_of(env, d), ref);
    return true;
  }

  // Hands a full (or old enough) batch to the writer and collects the
  // previous one's result; waits only when two batches are waiting.
  pipeline::outcome flush(pipeline::emitter& out) override {
    const bool full = static_cast<std::int64_t>(buffer_->origins.size()) >= settings_.batch_rows;
    if (auto o = collect(out, full); o.v != pipeline::verdict::ok) return o;
    count_buffered();
    if (job_) return pipeline::outcome::ok();  // still writing (or a failed one was resubmitted)
    if (!buffer_->empty() && (full || clock::now() - buffer_->oldest >= std::chrono::milliseconds(settings_.batch_ms)))
      submit(std::exchange(buffer_, std::make_unique<batch>()));
    return pipeline::outcome::ok();
  }

  pipeline::outcome flush_all(pipeline::emitter& out) override {
    for (;;) {
      if (auto o = collect(out, true); o.v != pipeline::verdict::ok) return o;
      if (job_) continue;  // a failed job was resubmitted: wait for it
      if (buffer_->empty()) return pipeline::outcome::ok();
      submit(std::exchange(buffer_, std::make_unique<batch>()));
    }
  }

  pipeline::outcome idle(pipeline::emitter& out) override { return flush(out); }

  std::int64_t durable(std::string_view topic, std::int32_t partition, std::int64_t next) override {
    const tp_key tp{std::string(topic), partition};
    std::int64_t d = next;
    if (auto it = buffer_->first.find(tp); it != buffer_->first.end()) d = std::min(d, it->second);
    std::lock_guard lock(mu_);
    if (job_)
      if (auto it = job_->first.find(tp); it != job_->first.end()) d = std::min(d, it->second);
    return d;
  }

 private:
  enum class job_state { none, running, done, failed };

  void count_buffered() {
    std::size_t n = buffer_->origins.size();
    std::lock_guard lock(mu_);
    if (job_) n += job_->origins.size();
    buffered_.store(n);
  }

  void submit(std::unique_ptr<batch> b) {
    {
      std::lock_guard lock(mu_);
      job_ = std::move(b);
      state_ = job_state::running;
    }
    cv_.notify_all();
  }

  void wait_idle() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return state_ != job_state::running; });
  }

  // The writer's result: dead letters for refused rows (done), or a retry
  // for the runner's backoff, after which the same job is resubmitted.
  pipeline::outcome collect(pipeline::emitter& out, bool wait) {
    std::unique_lock lock(mu_);
    if (wait) cv_.wait(lock, [this] { return state_ != job_state::running; });
    if (state_ == job_state::failed) {
      state_ = job_state::none;
      resubmit_ = true;
      return pipeline::outcome::retry(job_error_);
    }
    if (resubmit_ && job_) {
      resubmit_ = false;
      state_ = job_state::running;
      lock.unlock();
      cv_.notify_all();
      return pipeline::outcome::ok();
    }
    if (state_ != job_state::done) return pipeline::outcome::ok();
    std::unique_ptr<batch> b = std::move(job_);
    std::vector<rejection> rejected = std::move(job_rejected_);
    state_ = job_state::none;
    lock.unlock();
    for (const auto& r : rejected) {
      const origin& o = b->origins[r.ref];
      spdlog::warn("db-sink: {}/{}@{} refused by PostgreSQL: {}", o.topic, o.partition, o.offset, r.reason);
      if (!out.dead_letter(o.topic, o.partition, o.offset, o.key, o.value,
                           pipeline::outcome::dead_letter("database_refused", r.reason)))
        spdlog::error("db-sink: the dead letter for {}/{}@{} was refused; the row is kept in sink_rejects", o.topic,
                      o.partition, o.offset);
    }
    count_buffered();
    return pipeline::outcome::ok();
  }

  void writer_loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return quit_ || state_ == job_state::running; });
      if (quit_) return;
      batch& b = *job_;
      lock.unlock();
      std::vector<rejection> rejected;
      std::string error;
      const bool ok = write(b, rejected, error);
      lock.lock();
      job_rejected_ = std::move(rejected);
      job_error_ = std::move(error);
      state_ = ok ? job_state::done : job_state::failed;
      sick_.store(!ok);
      cv_.notify_all();
    }
  }

  bool ready(std::string& err) {
    if (conn_ && conn_->is_open()) return true;
    conn_ = connect(conninfo_, err);
    if (!conn_) return false;
    try {
      auto applied = migrate(*conn_);
      if (!applied.empty()) spdlog::info("db-sink: applied schema migrations up to version {}", applied.back());
      pqxx::work w(*conn_);
      batch b;
      for (auto* t : b.tables()) w.exec(t->create_stage_sql());
      w.commit();
    } catch (const std::exception& e) {
      err = "preparing the database: " + db_message(e);
      conn_.reset();
      return false;
    }
    return true;
  }

  void drop_connection_if_broken(const std::exception& e) {
    if (dynamic_cast<const pqxx::broken_connection*>(&e) || !conn_ || !conn_->is_open()) conn_.reset();
  }

  // One transaction: every table's rows, the rows refused (isolated by
  // splitting), and the batch's next offsets. Runs on the writer thread.
  bool write(batch& b, std::vector<rejection>& rejected, std::string& error) {
    if (!ready(error)) {
      errors_->fetch_add(1);
      return false;
    }
    const auto t0 = clock::now();
    std::size_t inserted = 0;
    try {
      try {
        inserted = transact(b, false, rejected);
      } catch (const std::exception& e) {
        if (classify(e) != failure_kind::bad_data) throw;
        errors_->fetch_add(1);
        spdlog::warn("db-sink: the database refused part of a batch of {} rows ({}); isolating the refused rows",
                     b.origins.size(), db_message(e));
        rejected.clear();
        inserted = transact(b, true, rejected);
      }
    } catch (const std::exception& e) {
      errors_->fetch_add(1);
      drop_connection_if_broken(e);
      const auto kind = dynamic_cast<const systematic_refusal*>(&e) ? failure_kind::other : classify(e);
      const std::string why = db_message(e);
      if (kind == failure_kind::other) spdlog::error("db-sink: write failed, not a data error: {}", why);
      error = "PostgreSQL " + std::string(kind == failure_kind::sick ? "unavailable: " : "error: ") + why;
      return false;
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
    write_us_->fetch_add(static_cast<std::uint64_t>(us));
    writes_->fetch_add(1);
    rows_seen_->fetch_add(b.origins.size());
    rows_written_->fetch_add(inserted);
    last_batch_.store(b.origins.size());
    rejected_->fetch_add(rejected.size());
    return true;
  }

  std::size_t transact(batch& b, bool isolate, std::vector<rejection>& rejected) {
    pqxx::work w(*conn_);
    std::size_t inserted = 0;
    for (auto* t : b.tables()) {
      if (t->size() == 0) continue;
      if (isolate) {
        inserted += write_isolating(w, *t, 0, t->size(), rejected);
        continue;
      }
      // COPY into the table when no id is stored yet; on a unique violation
      // (a redone batch) the savepoint is rolled back and the batch goes
      // through staging + ON CONFLICT DO NOTHING.
      try {
        pqxx::subtransaction s(w, "direct");
        inserted += t->write_direct(s, 0, t->size());
        s.commit();
        continue;
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "23505") throw;  // anything but "id already stored"
        upserted_->fetch_add(1);
      }
      inserted += t->write(w, 0, t->size());
    }
    if (!rejected.empty()) {
      std::string sql = "INSERT INTO sink_rejects (topic, partition, \"offset\", record_key, original, reason) VALUES ";
      for (std::size_t i = 0; i < rejected.size(); ++i) {
        const origin& o = b.origins[rejected[i].ref];
        sql += (i ? ", (" : "(") + w.quote(o.topic) + ", " + std::to_string(o.partition) + ", " +
               std::to_string(o.offset) + ", " +
               w.quote_raw(reinterpret_cast<const unsigned char*>(o.key.data()), o.key.size()) + ", " +
               w.quote_raw(reinterpret_cast<const unsigned char*>(o.value.data()), o.value.size()) + ", " +
               w.quote(rejected[i].reason) + ")";
      }
      w.exec(sql + " ON CONFLICT DO NOTHING");
    }
    std::string sql = "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset) VALUES ";
    bool first = true;
    for (const auto& [tp, next] : b.next) {
      sql += (first ? "(" : ", (") + w.quote(group_) + ", " + w.quote(tp.first) + ", " + std::to_string(tp.second) +
             ", " + std::to_string(next) + ")";
      first = false;
    }
    if (!first)
      w.exec(sql +
             " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
             "updated_at = now()");
    w.commit();
    return inserted;
  }

  // Splits [lo, hi) until each refused row stands alone; every part that
  // the database accepts stays in the transaction (savepoints).
  std::size_t write_isolating(pqxx::work& w, table_base& t, std::size_t lo, std::size_t hi,
                              std::vector<rejection>& rejected) {
    try {
      pqxx::subtransaction s(w, "isolate");
      std::size_t n = t.write(s, lo, hi);
      s.commit();
      return n;
    } catch (const std::exception& e) {
      if (classify(e) != failure_kind::bad_data) throw;
      if (hi - lo == 1) {
        rejected.push_back({t.refs[lo], db_message(e)});
        // Many refusals are not bad records but a problem of the table or
        // the data flow: stop splitting and report it as such.
        if (rejected.size() > max_rejects_per_write)
          throw systematic_refusal("PostgreSQL refused more than " + std::to_string(max_rejects_per_write) +
                                   " rows of one batch, e.g. " + rejected.front().reason);
        return 0;
      }
      const std::size_t mid = lo + (hi - lo) / 2;
      return write_isolating(w, t, lo, mid, rejected) + write_isolating(w, t, mid, hi, rejected);
    }
  }

  cfg::postgres_settings settings_;
  std::string group_;
  std::string conninfo_;
  std::unique_ptr<pqxx::connection> conn_;  // the writer's (the runner's thread uses it only while the writer is idle)
  msg::json_decoder decoder_;
  std::unique_ptr<batch> buffer_;  // being filled by handle()

  // Shared with the writer thread, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<batch> job_;  // handed to the writer (kept after a failure, for the retry)
  job_state state_ = job_state::none;
  bool resubmit_ = false;
  std::vector<rejection> job_rejected_;
  std::string job_error_;
  bool quit_ = false;
  std::atomic<bool> sick_{false};  // the last write failed
  std::thread writer_;

  std::atomic<std::uint64_t> unregistered_{0};  // counters before register_metrics()
  std::atomic<std::uint64_t>* rows_written_ = &unregistered_;
  std::atomic<std::uint64_t>* rows_seen_ = &unregistered_;
  std::atomic<std::uint64_t>* writes_ = &unregistered_;
  std::atomic<std::uint64_t>* write_us_ = &unregistered_;
  std::atomic<std::uint64_t>* errors_ = &unregistered_;
  std::atomic<std::uint64_t>* rejected_ = &unregistered_;
  std::atomic<std::uint64_t>* upserted_ = &unregistered_;
  std::atomic<std::uint64_t> last_batch_{0};
  std::atomic<std::uint64_t> buffered_{0};
};

}  // namespace

std::unique_ptr<pipeline::actor> make_db_sink(const pipeline::actor_context& ctx) {
  return std::make_unique<db_sink>(ctx);
}

}  // namespace ctk::db
