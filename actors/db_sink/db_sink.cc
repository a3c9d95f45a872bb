#include "actors/db_sink/db_sink.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "actors/db_sink/postgres.h"
#include "actors/db_sink/schema.h"
#include "actors/db_sink/tables.h"
#include "actors/validator/normalize.h"
#include "messages/analysis.h"
#include "messages/envelope.h"
#include "pipeline/job_thread.h"

namespace ctk::db {

namespace {

constexpr std::size_t max_rejects_per_write = 100;

struct systematic_refusal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using clock = std::chrono::steady_clock;

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
      : settings_(ctx.config.cluster.postgres),
        group_(ctx.config.cluster.kafka.prefix + "db-sink"),
        rows_written_(
            ctx.metrics.counter("ctk_sink_rows_written_total", "rows inserted (duplicates of stored ids excluded)")),
        rows_seen_(ctx.metrics.counter("ctk_sink_rows_total", "rows sent to the database, duplicates included")),
        writes_(ctx.metrics.counter("ctk_sink_writes_total", "transactions committed")),
        write_us_(
            ctx.metrics.seconds_counter("ctk_sink_write_seconds_total", "time spent in committed write transactions")),
        errors_(ctx.metrics.counter("ctk_sink_write_errors_total",
                                    "write attempts that failed (database down, refused data)")),
        rejected_(ctx.metrics.counter("ctk_sink_rows_rejected_total", "rows the database refused (dead-lettered)")),
        upserted_(ctx.metrics.counter("ctk_sink_upserted_tables_total",
                                      "table writes that met stored ids and went through staging + upsert")) {
    ctx.metrics.gauge("ctk_sink_last_batch_rows", "rows in the last committed transaction",
                      [this] { return static_cast<double>(last_batch_.load()); });
    ctx.metrics.gauge("ctk_sink_buffered_rows", "rows waiting for a transaction or in one",
                      [this] { return static_cast<double>(buffered_.load()); });
    std::string err;
    auto ci = connection_string(settings_, err);
    if (!ci) throw std::runtime_error(err);
    conninfo_ = *ci;
    if (settings_.dsn.empty())
      throw std::runtime_error(
          "postgres.dsn is empty: give a DSN (host=... dbname=...) in cluster.yaml or "
          "CTK_POSTGRES__DSN; `cointicker up` starts a private server and sets it");
    spdlog::info("db-sink: PostgreSQL at {}; a transaction every {} rows or {}", redact(conninfo_),
                 settings_.batch_rows, settings_.batch_after.text);
    buffer_ = std::make_unique<batch>();
    retry_initial_ = ctx.config.cluster.runtime.retry_initial.value();
    retry_max_ = ctx.config.cluster.runtime.retry_max.value();
  }

  std::string name() const override { return "db-sink"; }
  std::vector<std::string> inputs() const override { return {"unique", "insights"}; }
  bool healthy() const override { return !sick_.load(); }

  std::vector<std::pair<std::string, std::int64_t>> stored_marks() const override {
    std::lock_guard lock(marks_mu_);
    return {marks_.begin(), marks_.end()};
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
    if (job_ && (resubmit_ || !writer_.failure().empty())) job_->drop(gone);  // a failed job is retried without them
    count_buffered();
  }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter&) override {
    msg::envelope env;
    msg::decode_error err;
    // One parse: `data` stays an element of it (decode_element in add_row).
    if (!decoder_.decode_in_place(in.value, env, err))
      return pipeline::outcome::dead_letter("decode", "envelope: " + err.to_string());
    if (env.id.size() != 32) return pipeline::outcome::dead_letter("id", "envelope id must be 32 hex characters");
    // The validator's rule, again here and in hdfs-sink: a record written to
    // `unique` by anything else is refused by both sinks alike.
    if (!msg::valid_source(env.source)) return pipeline::outcome::dead_letter("source", msg::valid_source_rule);
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
    if (env.kind == "market" || env.kind == "news" || env.kind == "fear_greed") b.crawled(env.source, env.fetched_at);
    b.add_origin(in.topic, in.partition, in.offset, in.key, in.value);
    if (b.origins.size() == 1) b.oldest = clock::now();
    return pipeline::outcome::ok();
  }

  // Decodes `data` as Data and adds its row to the table.
  template <class Data, class Table>
  bool add_row(const msg::envelope& env, Table& table, std::size_t ref, std::string& why) {
    Data d;
    msg::decode_error err;
    if (!decoder_.decode_element(env.data.dom, d, err)) {
      why = "data: " + err.to_string();
      return false;
    }
    table.add(env, d, ref);
    return true;
  }

  // Hands a full (or old enough) batch to the writer and collects the
  // previous one's result; waits only when two batches are waiting.
  pipeline::outcome flush(pipeline::emitter& out) override { return step(out, true); }

  pipeline::outcome flush_all(pipeline::emitter& out) override {
    for (;;) {
      if (auto o = collect(out, true, true); o.v != pipeline::verdict::ok) return o;  // the job is done now
      if (buffer_->empty()) return pipeline::outcome::ok();
      submit(std::exchange(buffer_, fresh_batch()));
    }
  }

  pipeline::outcome idle(pipeline::emitter& out) override {
    if (!job_ && buffer_->empty()) probe();
    return step(out, false);
  }

  std::int64_t durable(std::string_view topic, std::int32_t partition, std::int64_t next) override {
    const tp_key tp{std::string(topic), partition};
    std::int64_t d = next;
    if (auto it = buffer_->first.find(tp); it != buffer_->first.end()) d = std::min(d, it->second);
    if (job_)
      if (auto it = job_->first.find(tp); it != job_->first.end()) d = std::min(d, it->second);
    return d;
  }

 private:
  // flush() (paced: from the runner's retry loop, after its backoff) and idle().
  pipeline::outcome step(pipeline::emitter& out, bool paced) {
    const bool full = static_cast<std::int64_t>(buffer_->origins.size()) >= settings_.batch_rows;
    if (auto o = collect(out, full, paced); o.v != pipeline::verdict::ok) return o;
    count_buffered();
    if (job_) return pipeline::outcome::ok();  // still writing
    if (!buffer_->empty() && (full || clock::now() - buffer_->oldest >= settings_.batch_after.value()))
      submit(std::exchange(buffer_, fresh_batch()));
    return pipeline::outcome::ok();
  }

  // With nothing to write, the database is still checked (connect and
  // migrate, every few seconds while it fails): a wrong password or a
  // failed migration turns /readyz to 503 and is logged at once, not when
  // the first record arrives. The writer is idle here: the connection is ours.
  void probe() {
    const auto now = clock::now();
    if (now < next_probe_) return;
    std::string err;
    bool ok = ready(err);
    if (ok) try {
        pqxx::nontransaction(*conn_).exec("SELECT 1");  // a server gone since is found here
      } catch (const std::exception& e) {
        err = db_message(e);
        drop_connection_if_broken(e);
        ok = false;
      }
    next_probe_ = now + (ok ? std::chrono::seconds(30) : std::chrono::seconds(3));
    if (!ok && err != probe_error_) spdlog::error("db-sink: PostgreSQL is not ready: {}", err);
    if (ok && !probe_error_.empty()) spdlog::info("db-sink: PostgreSQL is ready again");
    probe_error_ = ok ? std::string() : err;
    sick_.store(!ok);
  }

  void count_buffered() {
    std::size_t n = buffer_->origins.size();
    if (job_) n += job_->origins.size();
    buffered_.store(n);
  }

  void submit(std::unique_ptr<batch> b) {
    job_ = std::move(b);
    start_job();
  }

  // job_ on the writer thread: job_ and job_rejected_ are the writer's
  // until it is idle again (busy() false, or after barrier()).
  void start_job() {
    writer_.submit(
        [this] {
          std::vector<rejection> rejected;
          std::string error;
          const bool ok = write(*job_, rejected, error);
          job_rejected_ = std::move(rejected);
          sick_.store(!ok);
          return ok ? std::string() : error.empty() ? std::string("write failed") : error;
        },
        1);
  }

  void wait_idle() { writer_.barrier(); }

  pipeline::outcome still_failing() const {
    return pipeline::outcome::retry(last_failure_ + " (" + std::to_string(failures_) +
                                    (failures_ == 1 ? " failed write" : " failed writes") + "; retrying)");
  }

  // The writer's result: dead letters for refused rows (done), or a retry
  // for the runner's backoff, after which the same job is resubmitted.
  // `paced` (from the runner's retry loop, after its backoff): a failed job
  // is written again at once and that attempt's result is the answer, one
  // write per backoff; answering "still failing" meanwhile would double the
  // runner's delay again for nothing. From idle(), after every empty poll,
  // the job waits for the sink's own backoff instead.
  pipeline::outcome collect(pipeline::emitter& out, bool wait, bool paced) {
    if (!job_) return pipeline::outcome::ok();
    if (resubmit_) {
      if (!paced && clock::now() < resubmit_at_) return still_failing();
      resubmit_ = false;
      start_job();
      wait = true;
    }
    if (wait)
      writer_.barrier();
    else if (writer_.busy())
      return pipeline::outcome::ok();  // a first write (a retried one is waited for above)
    if (std::string failure = writer_.failure(); !failure.empty()) {
      writer_.reset();
      resubmit_ = true;
      last_failure_ = failure;
      // Written again after a backoff of its own: the runner calls idle()
      // after every empty poll, and a database that is down is not asked
      // ten times a second.
      const auto delay = std::min<clock::duration>(retry_max_, retry_initial_ * (1LL << std::min(failures_, 20)));
      resubmit_at_ = clock::now() + delay;
      ++failures_;
      return pipeline::outcome::retry(failure);
    }
    if (failures_ > 0) spdlog::info("db-sink: writing succeeded again after {} failed attempts", failures_);
    failures_ = 0;
    std::unique_ptr<batch> b = std::move(job_);
    std::vector<rejection> rejected = std::move(job_rejected_);
    for (const auto& r : rejected) {
      const origin& o = b->origins[r.ref];
      spdlog::warn("db-sink: {}/{}@{} refused by PostgreSQL: {}", o.topic, o.partition, o.offset, r.reason);
      if (!out.dead_letter(o.topic, o.partition, o.offset, b->key(o), b->value(o),
                           pipeline::outcome::dead_letter("database_refused", r.reason)))
        spdlog::error("db-sink: the dead letter for {}/{}@{} was refused; the row is kept in sink_rejects", o.topic,
                      o.partition, o.offset);
    }
    b->clear();
    spare_ = std::move(b);
    count_buffered();
    return pipeline::outcome::ok();
  }

  std::unique_ptr<batch> fresh_batch() { return spare_ ? std::move(spare_) : std::make_unique<batch>(); }

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
      errors_.fetch_add(1);
      return false;
    }
    const auto t0 = clock::now();
    std::size_t inserted = 0;
    try {
      try {
        inserted = transact(b, false, rejected);
      } catch (const std::exception& e) {
        if (classify(e) != failure_kind::bad_data) throw;
        errors_.fetch_add(1);
        spdlog::warn("db-sink: the database refused part of a batch of {} rows ({}); isolating the refused rows",
                     b.origins.size(), db_message(e));
        rejected.clear();
        inserted = transact(b, true, rejected);
      }
    } catch (const std::exception& e) {
      errors_.fetch_add(1);
      drop_connection_if_broken(e);
      const auto kind = dynamic_cast<const systematic_refusal*>(&e) ? failure_kind::other : classify(e);
      const std::string why = db_message(e);
      if (kind == failure_kind::other) spdlog::error("db-sink: write failed, not a data error: {}", why);
      error = "PostgreSQL " + std::string(kind == failure_kind::sick ? "unavailable: " : "error: ") + why;
      return false;
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
    write_us_.fetch_add(static_cast<std::uint64_t>(us));
    writes_.fetch_add(1);
    rows_seen_.fetch_add(b.origins.size());
    rows_written_.fetch_add(inserted);
    last_batch_.store(b.origins.size());
    rejected_.fetch_add(rejected.size());
    std::lock_guard lock(marks_mu_);
    for (const auto& [source, ms] : b.newest) marks_[source] = std::max(marks_[source], ms);
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
        upserted_.fetch_add(1);
      }
      inserted += t->write(w, 0, t->size());
    }
    if (!rejected.empty()) {
      std::string sql = "INSERT INTO sink_rejects (topic, partition, \"offset\", record_key, original, reason) VALUES ";
      for (std::size_t i = 0; i < rejected.size(); ++i) {
        const origin& o = b.origins[rejected[i].ref];
        sql += (i ? ", (" : "(") + w.quote(o.topic) + ", " + std::to_string(o.partition) + ", " +
               std::to_string(o.offset) + ", " +
               w.quote_raw(reinterpret_cast<const unsigned char*>(b.key(o).data()), o.key_size) + ", " +
               w.quote_raw(reinterpret_cast<const unsigned char*>(b.value(o).data()), o.value_size) + ", " +
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
  std::atomic<std::uint64_t>& rows_written_;
  std::atomic<std::uint64_t>& rows_seen_;
  std::atomic<std::uint64_t>& writes_;
  std::atomic<std::uint64_t>& write_us_;
  std::atomic<std::uint64_t>& errors_;
  std::atomic<std::uint64_t>& rejected_;
  std::atomic<std::uint64_t>& upserted_;
  std::string conninfo_;
  std::unique_ptr<pqxx::connection> conn_;  // the writer's (the runner's thread uses it only while the writer is idle)
  msg::json_decoder decoder_;
  std::unique_ptr<batch> buffer_;  // being filled by handle()

  std::unique_ptr<batch> job_;    // handed to the writer (kept after a failure, for the retry)
  std::unique_ptr<batch> spare_;  // the last one written, emptied, for the next fill
  bool resubmit_ = false;         // the job failed; write it again at resubmit_at_
  clock::time_point resubmit_at_{};
  int failures_ = 0;                                     // failed writes of the job since the last success
  std::string last_failure_;                             // the last one's error
  std::chrono::milliseconds retry_initial_, retry_max_;  // the backoff between them (runtime.retry_*)
  std::vector<rejection> job_rejected_;
  std::atomic<bool> sick_{false};  // the last write (or probe) failed
  clock::time_point next_probe_{};
  std::string probe_error_;  // the last probe's failure, logged once
  std::atomic<std::uint64_t> last_batch_{0};
  std::atomic<std::uint64_t> buffered_{0};
  mutable std::mutex marks_mu_;
  std::map<std::string, std::int64_t> marks_;  // per source: the newest committed fetched_at (ms), for heartbeats
  pipeline::job_thread writer_{1};             // one transaction at a time; last: stopped first
};

}  // namespace

std::unique_ptr<pipeline::actor> make_db_sink(const pipeline::actor_context& ctx) {
  return std::make_unique<db_sink>(ctx);
}

}  // namespace ctk::db
