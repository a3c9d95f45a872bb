#include "actors/db_sink/db_sink.h"

#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <set>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "actors/db_sink/postgres.h"
#include "actors/db_sink/schema.h"
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
  // COPY rows [lo, hi) into the staging table, then one INSERT … SELECT.
  // Returns the rows inserted (duplicates of stored ids are not).
  std::size_t write(pqxx::transaction_base& t, std::size_t lo, std::size_t hi, bool truncate_first) {
    if (truncate_first) t.exec("DELETE FROM " + stage());
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

template <std::size_t N>
class table final : public table_base {
 public:
  using row = std::array<std::string, N>;
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

class db_sink final : public pipeline::actor {
 public:
  explicit db_sink(const actors::actor_context& ctx)
      : settings_(ctx.config.cluster.postgres), group_(ctx.config.cluster.kafka.prefix + "db-sink") {
    std::string err;
    auto ci = connection_string(settings_, err);
    if (!ci) throw std::runtime_error(err);
    conninfo_ = *ci;
    if (settings_.dsn.empty())
      throw std::runtime_error("postgres.dsn is empty: give a DSN (host=... dbname=...) in cluster.yaml or "
                               "CTK_POSTGRES__DSN; `cointicker up` starts a private server and sets it");
    spdlog::info("db-sink: PostgreSQL at {}; a transaction every {} rows or {} ms", redact(conninfo_),
                 settings_.batch_rows, settings_.batch_ms);
  }

  std::string name() const override { return "db-sink"; }
  std::vector<std::string> inputs() const override { return {"unique"}; }

  void register_metrics(pipeline::metrics_registry& m) override {
    rows_written_ = &m.counter("ctk_sink_rows_written_total", "rows inserted (duplicates of stored ids excluded)");
    rows_seen_ = &m.counter("ctk_sink_rows_total", "rows sent to the database, duplicates included");
    writes_ = &m.counter("ctk_sink_writes_total", "transactions committed");
    write_us_ = &m.counter("ctk_sink_write_microseconds_total", "time spent in committed write transactions");
    errors_ = &m.counter("ctk_sink_write_errors_total", "write attempts that failed (database down, refused data)");
    rejected_ = &m.counter("ctk_sink_rows_rejected_total", "rows the database refused (dead-lettered)");
    m.gauge("ctk_sink_last_batch_rows", "rows in the last committed transaction",
            [this] { return static_cast<double>(last_batch_.load()); });
    m.gauge("ctk_sink_buffered_rows", "rows waiting for the next transaction",
            [this] { return static_cast<double>(buffered_.load()); });
  }

  void on_assign(std::vector<kafka::topic_partition>& parts) override {
    // The offsets stored with the rows decide where to resume. When the
    // database cannot be asked now, Kafka's committed offset is used: it is
    // never ahead of the database (durable() caps it), and rows read twice
    // are dropped by ON CONFLICT.
    std::string err;
    if (!ready(err)) {
      spdlog::warn("db-sink: cannot read stored offsets ({}); starting from Kafka's committed offsets", err);
      return;
    }
    try {
      pqxx::work w(*conn_);
      auto r = w.exec("SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = " + w.quote(group_));
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
    std::set<tp_key> gone;
    for (const auto& p : parts) gone.insert({p.topic, p.partition});
    std::vector<long> remap(origins_.size(), -1);
    std::vector<origin> kept;
    for (std::size_t i = 0; i < origins_.size(); ++i)
      if (!gone.count({origins_[i].topic, origins_[i].partition})) {
        remap[i] = static_cast<long>(kept.size());
        kept.push_back(std::move(origins_[i]));
      }
    origins_ = std::move(kept);
    for (auto* t : tables_) t->retain(remap);
    for (const auto& tp : gone) {
      first_unwritten_.erase(tp);
      next_.erase(tp);
    }
    buffered_.store(origins_.size());
  }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter&) override {
    msg::envelope env;
    msg::decode_error err;
    if (!decoder_.decode(in.value, env, err))
      return pipeline::outcome::dead_letter("decode", "envelope: " + err.to_string());
    if (env.id.size() != 32) return pipeline::outcome::dead_letter("id", "envelope id must be 32 hex characters");
    const std::size_t ref = origins_.size();
    if (env.kind == "market") {
      msg::market_data d;
      if (!decoder_.decode(env.data.text, d, err)) return pipeline::outcome::dead_letter("decode", "data: " + err.to_string());
      market_.add({env.id, env.source, d.symbol, number(d.price), number(d.volume_24h), number(d.change_24h), d.timestamp,
                   env.fetched_at, env.trace},
                  ref);
    } else if (env.kind == "news") {
      msg::news_data d;
      if (!decoder_.decode(env.data.text, d, err)) return pipeline::outcome::dead_letter("decode", "data: " + err.to_string());
      news_.add({env.id, env.source, d.title, d.url, d.content, d.published_at, json_array(d.keywords), env.fetched_at,
                 env.trace},
                ref);
    } else if (env.kind == "fear_greed") {
      msg::fear_greed_data d;
      if (!decoder_.decode(env.data.text, d, err)) return pipeline::outcome::dead_letter("decode", "data: " + err.to_string());
      fear_greed_.add({env.id, env.source, std::to_string(d.value), d.classification, d.timestamp, env.fetched_at,
                       env.trace},
                      ref);
    } else {
      return pipeline::outcome::dead_letter("kind", "kind '" + env.kind + "' has no table (market, news, fear_greed)");
    }
    origins_.push_back({std::string(in.topic), in.partition, in.offset, std::string(in.key), std::string(in.value)});
    const tp_key tp{std::string(in.topic), in.partition};
    first_unwritten_.try_emplace(tp, in.offset);
    next_[tp] = in.offset + 1;
    if (origins_.size() == 1) oldest_ = clock::now();
    buffered_.store(origins_.size());
    return pipeline::outcome::ok();
  }

  pipeline::outcome flush(pipeline::emitter& out) override {
    if (origins_.empty()) return pipeline::outcome::ok();
    if (static_cast<std::int64_t>(origins_.size()) < settings_.batch_rows &&
        clock::now() - oldest_ < std::chrono::milliseconds(settings_.batch_ms))
      return pipeline::outcome::ok();
    return write(out);
  }
  pipeline::outcome flush_all(pipeline::emitter& out) override {
    return origins_.empty() ? pipeline::outcome::ok() : write(out);
  }
  pipeline::outcome idle(pipeline::emitter& out) override { return flush(out); }

  std::int64_t durable(std::string_view topic, std::int32_t partition, std::int64_t next) override {
    auto it = first_unwritten_.find({std::string(topic), partition});
    return it == first_unwritten_.end() ? next : std::min(next, it->second);
  }

 private:
  struct rejection {
    std::size_t ref;
    std::string reason;
  };

  bool ready(std::string& err) {
    if (conn_ && conn_->is_open()) return true;
    conn_ = connect(conninfo_, err);
    if (!conn_) return false;
    try {
      auto applied = migrate(*conn_);
      if (!applied.empty()) spdlog::info("db-sink: applied schema migrations up to version {}", applied.back());
      pqxx::work w(*conn_);
      for (auto* t : tables_) w.exec(t->create_stage_sql());
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
  // splitting), and the next offsets.
  pipeline::outcome write(pipeline::emitter& out) {
    std::string err;
    if (!ready(err)) {
      errors_->fetch_add(1);
      return pipeline::outcome::retry(err);
    }
    const auto t0 = clock::now();
    std::vector<rejection> rejected;
    std::size_t inserted = 0;
    try {
      try {
        inserted = transact(false, rejected);
      } catch (const std::exception& e) {
        if (classify(e) != failure_kind::bad_data) throw;
        errors_->fetch_add(1);
        spdlog::warn("db-sink: the database refused part of a batch of {} rows ({}); isolating the refused rows",
                     origins_.size(), db_message(e));
        rejected.clear();
        inserted = transact(true, rejected);
      }
    } catch (const std::exception& e) {
      errors_->fetch_add(1);
      drop_connection_if_broken(e);
      const auto kind = dynamic_cast<const systematic_refusal*>(&e) ? failure_kind::other : classify(e);
      std::string why = db_message(e);
      if (kind == failure_kind::other) spdlog::error("db-sink: write failed, not a data error: {}", why);
      return pipeline::outcome::retry("PostgreSQL " + std::string(kind == failure_kind::sick ? "unavailable: " : "error: ") +
                                      why);
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
    write_us_->fetch_add(static_cast<std::uint64_t>(us));
    writes_->fetch_add(1);
    rows_seen_->fetch_add(origins_.size());
    rows_written_->fetch_add(inserted);
    last_batch_.store(origins_.size());
    rejected_->fetch_add(rejected.size());
    for (const auto& r : rejected) {
      const origin& o = origins_[r.ref];
      spdlog::warn("db-sink: {}/{}@{} refused by PostgreSQL: {}", o.topic, o.partition, o.offset, r.reason);
      if (!out.dead_letter(o.topic, o.partition, o.offset, o.key, o.value,
                           pipeline::outcome::dead_letter("database_refused", r.reason)))
        spdlog::error("db-sink: the dead letter for {}/{}@{} was refused; the row is kept in sink_rejects", o.topic,
                      o.partition, o.offset);
    }
    origins_.clear();
    for (auto* t : tables_) t->clear();
    first_unwritten_.clear();
    buffered_.store(0);
    return pipeline::outcome::ok();
  }

  std::size_t transact(bool isolate, std::vector<rejection>& rejected) {
    pqxx::work w(*conn_);
    std::size_t inserted = 0;
    for (auto* t : tables_) {
      if (t->size() == 0) continue;
      if (!isolate) inserted += t->write(w, 0, t->size(), false);
      else inserted += write_isolating(w, *t, 0, t->size(), rejected);
    }
    if (!rejected.empty()) {
      std::string sql = "INSERT INTO sink_rejects (topic, partition, \"offset\", record_key, original, reason) VALUES ";
      for (std::size_t i = 0; i < rejected.size(); ++i) {
        const origin& o = origins_[rejected[i].ref];
        sql += (i ? ", (" : "(") + w.quote(o.topic) + ", " + std::to_string(o.partition) + ", " + std::to_string(o.offset) +
               ", " + w.quote_raw(reinterpret_cast<const unsigned char*>(o.key.data()), o.key.size()) + ", " +
               w.quote_raw(reinterpret_cast<const unsigned char*>(o.value.data()), o.value.size()) + ", " +
               w.quote(rejected[i].reason) + ")";
      }
      w.exec(sql + " ON CONFLICT DO NOTHING");
    }
    std::string sql = "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset) VALUES ";
    bool first = true;
    for (const auto& [tp, next] : next_) {
      sql += (first ? "(" : ", (") + w.quote(group_) + ", " + w.quote(tp.first) + ", " + std::to_string(tp.second) +
             ", " + std::to_string(next) + ")";
      first = false;
    }
    if (!first)
      w.exec(sql + " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
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
      std::size_t n = t.write(s, lo, hi, true);
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
  std::unique_ptr<pqxx::connection> conn_;
  msg::json_decoder decoder_;

  table<9> news_{"raw_news",
                 {"record_id", "source", "title", "url", "content", "published_at", "keywords", "collected_at", "trace"}};
  table<9> market_{"market_trends",
                   {"record_id", "source", "symbol", "price", "volume_24h", "change_24h", "\"timestamp\"", "collected_at",
                    "trace"}};
  table<7> fear_greed_{"fear_greed_index",
                       {"record_id", "source", "value", "classification", "\"timestamp\"", "collected_at", "trace"}};
  std::array<table_base*, 3> tables_{&news_, &market_, &fear_greed_};

  std::vector<origin> origins_;
  std::map<tp_key, std::int64_t> first_unwritten_;  // per partition: first offset not yet in the database
  std::map<tp_key, std::int64_t> next_;              // per partition: next offset after the last handled
  clock::time_point oldest_;

  std::atomic<std::uint64_t>* rows_written_ = &unregistered_;
  std::atomic<std::uint64_t>* rows_seen_ = &unregistered_;
  std::atomic<std::uint64_t>* writes_ = &unregistered_;
  std::atomic<std::uint64_t>* write_us_ = &unregistered_;
  std::atomic<std::uint64_t>* errors_ = &unregistered_;
  std::atomic<std::uint64_t>* rejected_ = &unregistered_;
  std::atomic<std::uint64_t> unregistered_{0};  // counters before register_metrics()
  std::atomic<std::uint64_t> last_batch_{0};
  std::atomic<std::uint64_t> buffered_{0};
};

}  // namespace

std::unique_ptr<pipeline::actor> make_db_sink(const actors::actor_context& ctx) {
  return std::make_unique<db_sink>(ctx);
}

}  // namespace ctk::db
