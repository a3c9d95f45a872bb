// RAII wrappers over librdkafka's C API: producer, consumer and admin
// helpers. These are the only places that talk to librdkafka; the actor
// loop sees them through kafka_transport.h, actors through the accessors
// below (and the runtime in pipeline/).
//
// Threading: a producer may be used from any thread (librdkafka is
// thread-safe); a consumer belongs to the thread that polls it, and its
// rebalance listener runs inside poll() on that thread.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "brokers/transport.h"

namespace ctk::kafka {

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using handle_ptr = std::unique_ptr<rd_kafka_t, handle_deleter>;

// A consumed message or error event; code outside brokers/ names it so.
using message = rd_kafka_message_t;

struct message_deleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
// A consumed message (or error event); owned, freed on destruction.
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;

inline std::string_view payload(const rd_kafka_message_t& m) { return {static_cast<const char*>(m.payload), m.len}; }
inline std::string_view key(const rd_kafka_message_t& m) { return {static_cast<const char*>(m.key), m.key_len}; }
inline std::string topic_of(const rd_kafka_message_t& m) { return rd_kafka_topic_name(m.rkt); }
// The broker's (or producer's) timestamp of a message, ms since the epoch; -1 if none.
inline std::int64_t timestamp_of(const rd_kafka_message_t& m) { return rd_kafka_message_timestamp(&m, nullptr); }
// What an error event says.
inline std::string error_of(const rd_kafka_message_t& m) { return rd_kafka_message_errstr(&m); }
inline bool is_partition_eof(const rd_kafka_message_t& m) { return m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF; }
// The position is gone from the log, or the topic/partition does not exist: reading on is pointless.
inline bool is_fatal_read_error(const rd_kafka_message_t& m) {
  return m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}
inline std::string error_text(rd_kafka_resp_err_t e) { return rd_kafka_err2str(e); }

// Builds a librdkafka config; the later maps override the earlier ones.
// Returns nullptr and sets `err` on an unknown property or a bad value.
rd_kafka_conf_t* make_conf(std::initializer_list<const properties*> layers, std::string& err);

// A bare client handle (for metadata, admin calls or assign()-based reading);
// nullptr and `err` on a bad property.
handle_ptr make_handle(rd_kafka_type_t type, const properties& props, std::string& err);

// Whether a client handle reaches any broker. librdkafka says when every
// broker connection is down (ALL_BROKERS_DOWN) but not when one is back: a
// metadata request that succeeds says that. Thread-safe.
class broker_link {
 public:
  bool down() const { return down_.load(); }
  // From librdkafka's error events (error_cb, or a consumer's error message).
  void on_error(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason);
  // One metadata request (blocks up to timeout_ms); clears down() when answered.
  bool probe(rd_kafka_t* rk, int timeout_ms);

 private:
  std::atomic<bool> down_{false};
};

// Idempotent producer (enable.idempotence=true, acks=all) with delivery reports.
class producer {
 public:
  // `props` are passed through; defaults are set first, so they may override them.
  static std::unique_ptr<producer> create(const properties& props, std::string& err);
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  // Enqueues one message (copied). partition -1 = partitioner by key.
  // When the local queue is full it serves delivery reports and waits.
  // Returns false when librdkafka refuses it; `transient` (if given) says
  // whether that is the topic's or the broker's state rather than the
  // message itself (see transport::produce).
  bool produce(const std::string& topic, std::int32_t partition, std::string_view key, std::string_view value,
               std::string* err = nullptr, std::uint64_t tag = 0, bool* transient = nullptr);

  // Called for every delivery report, on the thread that polls or flushes,
  // with the `tag` given to produce() and the result.
  void on_delivery_report(std::function<void(std::uint64_t tag, rd_kafka_resp_err_t err)> fn) {
    report_ = std::move(fn);
  }

  // Waits until every enqueued message is acknowledged or has failed
  // (bounded by message.timeout.ms). Returns true when none failed since
  // the previous call; otherwise `err` holds the first failure.
  bool flush(std::string& err);

  void poll(int timeout_ms) { rd_kafka_poll(rk_.get(), timeout_ms); }
  // Fetches the metadata of `topics` (leaders, partition counts) ahead of
  // the first produce(), so the first batch does not wait for it.
  // false: not all known within timeout_ms (produce() still works; it waits then).
  bool prepare(const std::vector<std::string>& topics, int timeout_ms, std::string& err);
  // Partitions of a topic prepare() learned; -1 when it did not (thread-safe).
  std::int32_t partition_count(const std::string& topic) const;
  std::uint64_t acked() const { return acked_.load(); }
  std::uint64_t failed() const { return failed_total_.load(); }
  // true once every broker connection failed, until probe_brokers() gets an answer.
  bool brokers_down() const { return link_.down(); }
  bool probe_brokers(int timeout_ms) { return link_.probe(rk_.get(), timeout_ms); }
  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  producer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  rd_kafka_topic_t* topic_handle(const std::string& topic);

  struct topic_deleter {
    void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  };
  using topic_ptr = std::unique_ptr<rd_kafka_topic_t, topic_deleter>;

  handle_ptr rk_;
  std::map<std::string, topic_ptr, std::less<>> topics_;  // declared after rk_: destroyed before it
  std::atomic<std::uint64_t> acked_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> failed_total_{0};
  std::mutex err_mu_;
  std::string first_error_;
  mutable std::mutex counts_mu_;
  std::map<std::string, std::int32_t, std::less<>> partition_counts_;
  std::function<void(std::uint64_t, rd_kafka_resp_err_t)> report_;
  broker_link link_;
};

// Group consumer with manual commits. auto.offset.reset=error is forced so
// that an offset that fell out of range surfaces as an error event
// (RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) instead of being skipped silently.
class consumer {
 public:
  static std::unique_ptr<consumer> create(const properties& props, const std::string& group,
                                          rebalance_listener* listener, std::string& err);
  ~consumer();
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  bool subscribe(const std::vector<std::string>& topics, std::string& err);
  message_ptr poll(int timeout_ms) { return message_ptr(rd_kafka_consumer_poll(rk_.get(), timeout_ms)); }
  // Appends up to `max` messages (or error events) to `out`: waits at most
  // timeout_ms for the first, then takes only what is already queued.
  // Serves rebalance callbacks like poll().
  std::size_t poll_batch(int timeout_ms, std::size_t max, std::vector<message_ptr>& out);

  // Synchronous commit of the given next-offsets.
  bool commit(const std::vector<topic_partition>& offsets, std::string& err);
  bool seek(const std::vector<topic_partition>& to, std::string& err);
  // Restarts fetching one assigned partition at `offset`, also when it is
  // stopped in an error state (where seek() fails). Other partitions keep
  // their positions; those that fetched nothing yet restart where `starts`
  // says (their assigned start), else at the beginning.
  bool restart_at(const topic_partition& tp, const std::vector<topic_partition>& starts, std::string& err);
  // Short stops (a retry's backoff). resume() leaves alone what a hold keeps.
  void pause(const std::vector<topic_partition>& parts);
  void resume(const std::vector<topic_partition>& parts);
  // A hold (the control plane's pause) stops every assigned partition and
  // each one assigned later, as it is assigned, until hold(false).
  void hold(bool on);
  bool held() const { return held_; }
  std::vector<topic_partition> assignment() const;
  // Cached high watermark minus current position, summed over the
  // assignment; a partition that has fetched nothing yet counts from the
  // start it was assigned or sought to (after a restart: its commit).
  std::int64_t lag() const;
  // Leaves the group (revoke → listener commits) and closes. Idempotent.
  void close();
  // As producer::brokers_down(): seen in the error events poll_batch() returns.
  bool brokers_down() const { return link_.down(); }
  bool probe_brokers(int timeout_ms) { return link_.probe(rk_.get(), timeout_ms); }
  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  consumer() = default;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque);

  handle_ptr rk_;
  rebalance_listener* listener_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;  // the consumer queue, for batch polls
  std::vector<rd_kafka_message_t*> scratch_;
  bool closed_ = false;
  bool held_ = false;
  broker_link link_;
  // Where each partition was assigned or sought to start (for lag(); the
  // thread that polls).
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> starts_;
  void remember_starts(const std::vector<topic_partition>& v);
};

// Metadata helpers for the CLI and tests.
struct partition_info {
  std::int32_t partition;
  std::int64_t low = -1, high = -1;
};
struct topic_info {
  std::string name;
  std::vector<partition_info> partitions;
};

// Lists topics (all, or just `only`) with their watermarks.
bool list_topics(rd_kafka_t* rk, const std::string& only, std::vector<topic_info>& out, std::string& err,
                 int timeout_ms = 5000);
// The names of the broker's topics (metadata only, no watermarks).
bool topic_names(const properties& props, std::vector<std::string>& out, std::string& err, int timeout_ms = 5000);
// The same with a client of its own, made from `props` (code outside
// brokers/ never holds a librdkafka handle).
bool list_topics(const properties& props, const std::string& only, std::vector<topic_info>& out, std::string& err,
                 int timeout_ms = 5000);
// Committed offsets of `group` for the given partitions (offset -1001 = none).
bool committed_offsets(const properties& props, const std::string& group, std::vector<topic_partition>& parts,
                       std::string& err, int timeout_ms = 5000);
// The first offset of each partition of `t` whose message is at or after
// `since_ms` (a message timestamp), the partition's end when none is; asked
// of the broker (ListOffsets by time). A broker that cannot look times up
// (librdkafka's mock cluster, the embedded broker, answers "the end") is
// caught by reading the partition's last message: when that one is not
// older than `since_ms`, the partition is read from its start instead, and
// the caller must skip older messages itself.
bool offsets_for_time(const properties& props, const topic_info& t, std::int64_t since_ms,
                      std::vector<topic_partition>& out, std::string& err);
// One configuration value of a topic (DescribeConfigs: "cleanup.policy" →
// "compact"). False with `err` when the broker cannot say (the embedded
// broker has no DescribeConfigs).
bool topic_config(const properties& props, const std::string& topic, const std::string& key, std::string& value,
                  std::string& err);
// CreateTopics through the admin API (real Kafka; the embedded broker has no CreateTopics).
bool create_topics(const properties& props, const std::vector<std::pair<std::string, int>>& topics, int replication,
                   std::string& err);

// Reads partitions from an offset to their end as of now, with one
// consumer handle kept for every read (assign() only: it never joins a
// group or commits). A new handle costs a connection and its metadata
// (about 250 ms here), so code that reads many partitions keeps one reader.
class partition_reader {
 public:
  explicit partition_reader(properties props) : props_(std::move(props)) {}
  // Reads `topic`/`partition` from `from` (an offset, or
  // RD_KAFKA_OFFSET_BEGINNING) to its end, calling fn for every message.
  // Returns the offset after the last message (the end), or -1 and `err`.
  std::int64_t read(const std::string& topic, std::int32_t partition, std::int64_t from,
                    const std::function<void(const rd_kafka_message_t&)>& fn, std::string& err);

 private:
  properties props_;
  handle_ptr rk_;
};

// Low and high watermarks of partitions, asked of the broker (one handle
// kept for every query). Thread-compatible: one thread at a time.
class watermarks {
 public:
  static std::unique_ptr<watermarks> create(const properties& props, std::string& err);
  // false and `err` when the broker does not answer within timeout_ms.
  bool query(const std::string& topic, std::int32_t partition, std::int64_t& low, std::int64_t& high, std::string& err,
             int timeout_ms = 10000);
  // The log end (high watermark) of each partition in `parts`, into its
  // offset, asked in one request per leader; -1 for a partition whose
  // leader answered with an error. false and `err` when none answered in time.
  bool log_ends(std::vector<topic_partition>& parts, std::string& err, int timeout_ms = 10000);

 private:
  handle_ptr rk_;
};

// Follows partitions from given offsets with assign(): never joins a group
// or commits (librdkafka 2.0 still wants a group.id; a throw-away one is
// set). For `tail`, `crawl --wait` and the scheduler's report reader.
class follower {
 public:
  // offsets: where each partition starts (an offset, RD_KAFKA_OFFSET_BEGINNING or _END).
  static std::unique_ptr<follower> create(const properties& props, const std::vector<topic_partition>& offsets,
                                          std::string& err);
  ~follower();
  follower(const follower&) = delete;
  follower& operator=(const follower&) = delete;
  // The next message or error event, or nullptr after timeout_ms.
  message_ptr poll(int timeout_ms) { return message_ptr(rd_kafka_consumer_poll(rk_.get(), timeout_ms)); }

 private:
  follower() = default;
  handle_ptr rk_;
};

// One read with a reader of its own (for a single partition, once).
std::int64_t read_partition(const properties& props, const std::string& topic, std::int32_t partition,
                            std::int64_t from, const std::function<void(const rd_kafka_message_t&)>& fn,
                            std::string& err);

// librdkafka's version ("2.0.2"), for --version.
std::string client_version();

// Routes librdkafka's own log lines to spdlog's "kafka" logger.
void route_logs(rd_kafka_conf_t* conf);

}  // namespace ctk::kafka
