// A transport in one process's memory with Kafka's semantics where the
// actor loop depends on them: topics of partitions that are append-only
// logs with a low watermark, one consumer group member (this transport)
// with committed offsets, positions, pauses and holds, and delivery reports
// that come when the "broker" acknowledges. Hooks let a test script what a
// broker does: hold or fail deliveries, refuse commits, move partitions
// away, drop a log's head. For unit tests of pipeline/runner and of actors
// run by it; nothing in a deployment uses it.
// Threading: acked() from any thread; the rest from the thread that runs
// the loop (the hooks run there too).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "brokers/transport.h"

namespace ctk::kafka {

class memory_transport final : public transport {
 public:
  struct record {
    std::string key, value;
  };
  // A message produced and not yet reported.
  struct outgoing {
    std::string topic;
    std::int32_t partition;
    std::string key, value;
    std::uint64_t tag;
  };
  using tp = std::pair<std::string, std::int32_t>;

  // A topic must exist before it is produced to or subscribed.
  void create_topic(const std::string& topic, int partitions);
  // Appends as another producer would (no delivery report); returns the offset.
  std::int64_t append(const std::string& topic, std::int32_t partition, std::string key, std::string value);
  // The records of a partition still in the log, from `low(topic, partition)`.
  std::vector<record> read(const std::string& topic, std::int32_t partition) const;
  std::int64_t low(const std::string& topic, std::int32_t partition) const;
  std::int64_t high(const std::string& topic, std::int32_t partition) const;
  // Drops the head of a log up to `new_low` (retention): a position below it is out of range.
  void drop_head(const std::string& topic, std::int32_t partition, std::int64_t new_low);
  // The group's committed next offset; offset_invalid when none.
  std::int64_t committed(const std::string& topic, std::int32_t partition) const;
  // As if an earlier member of the group had committed `next`.
  void set_committed(const std::string& topic, std::int32_t partition, std::int64_t next);
  // Every commit the group accepted, in order.
  const std::vector<std::vector<topic_partition>>& commit_log() const { return commit_log_; }
  // At the next poll: revoke every assigned partition, then assign `keep`
  // (all of the subscription when empty) at their committed offsets.
  void rebalance(std::vector<tp> keep = {});
  // While set, the broker links are down (brokers_down() and probes say so).
  void set_down(bool down) { down_ = down; }
  std::size_t in_flight() const { return outgoing_.size(); }

  // ---- hooks (empty: acknowledge everything, accept every commit)
  // true: the broker has not answered this message yet; it stays in flight,
  // and so does what follows it in its partition (flush() fails them as
  // timed-out deliveries).
  std::function<bool(const outgoing&)> hold_delivery;
  // Non-empty: the delivery fails with this error instead of being appended.
  std::function<std::string(const outgoing&)> fail_delivery;
  // Non-empty: the commit is refused with this error.
  std::function<std::string(const std::vector<topic_partition>&)> refuse_commit;
  // Non-empty: produce() refuses every message with this error, as the
  // topic's or broker's state (transient), until it is cleared.
  std::string refuse_produce;
  // After each poll_batch(), with what it handed out: a test stops the loop here.
  std::function<void(const std::vector<polled>&)> after_poll;

  // ---- transport
  void on_delivery(delivery_fn fn) override { report_ = std::move(fn); }
  bool prepare(const std::vector<std::string>& topics, int timeout_ms, std::string& err) override;
  std::int32_t partition_count(const std::string& topic) const override;
  bool produce(const std::string& topic, std::int32_t partition, std::string_view key, std::string_view value,
               std::string& err, std::uint64_t tag, bool& transient) override;
  void serve_deliveries(int timeout_ms) override;
  bool flush(std::string& err) override;
  std::uint64_t acked() const override { return acked_.load(); }
  bool subscribe(const std::string& group, const std::vector<std::string>& topics, rebalance_listener* listener,
                 std::string& err) override;
  std::size_t poll_batch(int timeout_ms, std::size_t max, std::vector<polled>& out) override;
  bool commit(const std::vector<topic_partition>& offsets, std::string& err) override;
  bool seek(const std::vector<topic_partition>& to, std::string& err) override;
  bool restart_at(const topic_partition& at, const std::vector<topic_partition>& starts, std::string& err) override;
  void pause(const std::vector<topic_partition>& parts) override;
  void resume(const std::vector<topic_partition>& parts) override;
  void hold(bool on) override { held_ = on; }
  bool held() const override { return held_; }
  std::vector<topic_partition> assignment() const override;
  std::int64_t lag() const override;
  bool watermarks(const std::string& topic, std::int32_t partition, std::int64_t& low, std::int64_t& high,
                  std::string& err) override;
  void close() override;
  bool brokers_down() const override { return down_; }
  bool probe_brokers(int) override { return !down_; }

 private:
  struct partition_log {
    std::int64_t low = 0;
    std::deque<record> records;  // offsets low.. ; a deque keeps references stable as it grows
  };
  struct position {
    std::int64_t next = 0;
    bool failed = false;  // out of range reported; fetches nothing until a seek
  };
  partition_log* find(const std::string& topic, std::int32_t partition);
  const partition_log* find(const std::string& topic, std::int32_t partition) const;
  void assign(std::vector<tp> parts);
  void revoke_all(bool lost);
  std::int64_t resolve(const partition_log& log, std::int64_t offset) const;
  // Reports every delivery not held (or, with `timeout_held`, fails the held ones).
  bool deliver(bool timeout_held, std::string& first_error);

  std::map<std::string, std::vector<partition_log>, std::less<>> topics_;
  std::deque<outgoing> outgoing_;
  delivery_fn report_;
  std::atomic<std::uint64_t> acked_{0};
  std::string failed_;  // first delivery failure since the last flush()

  rebalance_listener* listener_ = nullptr;
  std::vector<std::string> subscription_;
  bool joined_ = false;  // the first assignment happened
  bool rebalance_ = false;
  std::vector<tp> keep_;
  std::map<tp, position> assigned_;
  std::set<tp> paused_;
  bool held_ = false;
  bool down_ = false;
  std::map<tp, std::int64_t> committed_;
  std::vector<std::vector<topic_partition>> commit_log_;
};

}  // namespace ctk::kafka
