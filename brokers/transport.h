// What the actor loop (pipeline/runner) needs of a message transport: a
// producer with delivery reports and a group consumer with manual commits,
// rebalances, seeks and pauses. Two implementations:
//   kafka_transport.h   Kafka through librdkafka (every deployment);
//   memory_transport.h  in one process's memory, for unit tests that drive
//                       the real loop and any actor without a broker.
// This header names no librdkafka type, so pipeline/ and actors/ can
// include it without rdkafka.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ctk::kafka {

using properties = std::map<std::string, std::string>;

// Special offsets, as Kafka (and librdkafka's RD_KAFKA_OFFSET_*) spell them.
inline constexpr std::int64_t offset_beginning = -2;
inline constexpr std::int64_t offset_end = -1;
inline constexpr std::int64_t offset_invalid = -1001;  // "none": no committed offset

// Topic and group names under the deployment's prefix (kafka.prefix).
struct names {
  std::string prefix = "ctk.";
  std::string topic(std::string_view base) const { return prefix + std::string(base); }
  std::string group(std::string_view actor) const { return prefix + std::string(actor); }
};

// The pipeline's topics, base names without prefix.
inline const std::vector<std::string>& pipeline_topics() {
  static const std::vector<std::string> t{"control",  "raw",         "valid",   "deadletter",    "unique",
                                          "insights", "dedup.state", "reports", "analyzer.state"};
  return t;
}

struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = offset_invalid;
  auto operator<=>(const topic_partition&) const = default;
};

// Told about partition assignment changes, inside a consumer's poll.
class rebalance_listener {
 public:
  virtual ~rebalance_listener() = default;
  // `parts` carry the start offsets (committed, else beginning); the
  // listener may change them (e.g. to offsets kept in a database).
  virtual void on_assign(std::vector<topic_partition>& parts) = 0;
  // Called before the partitions go away: finish and commit work for them.
  virtual void on_revoke(const std::vector<topic_partition>& parts, bool lost) = 0;
};

// One consumed message, or an error event, as a transport hands it out.
// key and value stay valid as long as the polled object lives.
struct polled {
  enum class kind : std::uint8_t {
    message,
    partition_end,  // reached the end of a partition (informational)
    out_of_range,   // the position is gone from the log: data loss, never skipped
    error,          // anything else the client reports (a broker down, ...)
  };
  kind what = kind::message;
  std::string topic;  // empty for an error not tied to a partition
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string_view key, value;
  std::string error;                                                    // what an event says
  std::unique_ptr<void, void (*)(void*)> owner{nullptr, [](void*) {}};  // keeps key and value alive
};

class transport {
 public:
  virtual ~transport() = default;

  // ---- output
  // Every delivery report, with produce()'s tag; `error` empty when the
  // broker acknowledged the message. Called on the thread that calls
  // serve_deliveries() or flush().
  using delivery_fn = std::function<void(std::uint64_t tag, const std::string& error)>;
  virtual void on_delivery(delivery_fn fn) = 0;
  // Learns the partitions of output topics before the first produce().
  virtual bool prepare(const std::vector<std::string>& topics, int timeout_ms, std::string& err) = 0;
  // Partitions of a topic, -1 when not known (thread-safe).
  virtual std::int32_t partition_count(const std::string& topic) const = 0;
  // Enqueues one message (copied); partition -1 = chosen by key. false:
  // not enqueued, and `transient` says why: true when it is the topic or
  // the broker, now (authorization, an unknown topic, partitions not known
  // after a broker error: produced again later, it may go through); false
  // when it is the message itself (too large, a partition the topic does
  // not have: refused again however often it is retried).
  virtual bool produce(const std::string& topic, std::int32_t partition, std::string_view key, std::string_view value,
                       std::string& err, std::uint64_t tag, bool& transient) = 0;
  // Serves the delivery reports that are in (waits up to timeout_ms for one).
  virtual void serve_deliveries(int timeout_ms) = 0;
  // Waits until every enqueued message is acknowledged or has failed.
  // false and `err`: some failed since the previous call.
  virtual bool flush(std::string& err) = 0;
  // Messages acknowledged so far (thread-safe).
  virtual std::uint64_t acked() const = 0;

  // ---- input, as one member of `group`
  virtual bool subscribe(const std::string& group, const std::vector<std::string>& topics, rebalance_listener* listener,
                         std::string& err) = 0;
  // Appends up to `max` messages or events: waits at most timeout_ms for the
  // first, then takes only what is already there. Rebalances happen in here.
  virtual std::size_t poll_batch(int timeout_ms, std::size_t max, std::vector<polled>& out) = 0;
  // Synchronous commit of next offsets.
  virtual bool commit(const std::vector<topic_partition>& offsets, std::string& err) = 0;
  virtual bool seek(const std::vector<topic_partition>& to, std::string& err) = 0;
  // Restarts one assigned partition at `tp.offset`, also out of an error
  // state; partitions that fetched nothing yet start where `starts` says.
  virtual bool restart_at(const topic_partition& tp, const std::vector<topic_partition>& starts, std::string& err) = 0;
  // Short stops (a retry's backoff); resume() leaves alone what a hold keeps.
  virtual void pause(const std::vector<topic_partition>& parts) = 0;
  virtual void resume(const std::vector<topic_partition>& parts) = 0;
  // Stops every assigned partition and each one assigned later, until hold(false).
  virtual void hold(bool on) = 0;
  virtual bool held() const = 0;
  virtual std::vector<topic_partition> assignment() const = 0;
  // High watermark minus position, summed over the assignment.
  virtual std::int64_t lag() const = 0;
  // Low and high watermark of a partition, asked now.
  virtual bool watermarks(const std::string& topic, std::int32_t partition, std::int64_t& low, std::int64_t& high,
                          std::string& err) = 0;
  // Leaves the group (revoke → listener) and closes the input. Idempotent.
  virtual void close() = 0;

  // ---- links
  // true while no broker answers (producer or consumer side).
  virtual bool brokers_down() const = 0;
  // Asks each side that is down for metadata; true when all of them answer.
  virtual bool probe_brokers(int timeout_ms) = 0;
};

}  // namespace ctk::kafka
