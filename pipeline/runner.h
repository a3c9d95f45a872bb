// The actor loop, written once:
//   poll a batch (count or time) → handle() each message (ok / retry /
//   dead-letter) → wait until the broker acknowledged every produced
//   message → actor.flush() (sink output durable) → commit input offsets.
// A crash anywhere before the commit means redelivery, never loss. SIGTERM
// finishes the batch, commits, leaves the group and exits 0.
//
// Threading: run() drives everything on the calling thread; the metrics
// endpoint runs on its own thread and only reads atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "brokers/kafka.h"
#include "config/settings.h"
#include "pipeline/actor.h"
#include "pipeline/metrics.h"

namespace ctk::pipeline {

struct runner_config {
  std::string identity;  // node/actor/instance
  kafka::names names;
  kafka::properties client;    // bootstrap.servers and passthrough properties
  kafka::properties producer;  // producer-only overrides
  kafka::properties consumer;  // consumer-only overrides
  cfg::runtime_settings runtime;
  std::string metrics_bind = "127.0.0.1";
  int metrics_port = 0;  // 0: any free port
};

// Builds a runner_config from loaded settings (kafka, runtime, metrics).
runner_config make_runner_config(const cfg::cluster_settings& s, const std::string& identity);

class runner final : kafka::rebalance_listener, public emitter {
 public:
  runner(actor& a, runner_config rc);
  ~runner() override;

  // Runs until `stop` is set. Returns the exit code: 0 after a clean drain,
  // 1 when the loop could not start (bad config, broker unreachable).
  int run(const std::atomic<bool>& stop);

  metrics_registry& metrics() { return metrics_; }
  int metrics_port() const;

  void emit(std::string_view topic, std::string_view key, std::string_view value, std::int32_t partition) override;

 private:
  using tp_key = std::pair<std::string, std::int32_t>;

  void on_assign(std::vector<kafka::topic_partition>& parts) override;
  void on_revoke(const std::vector<kafka::topic_partition>& parts, bool lost) override;

  void collect_batch(const std::atomic<bool>& stop);
  // false: abandoned (stop requested or partition revoked while retrying)
  bool handle_one(const rd_kafka_message_t& m, const std::atomic<bool>& stop);
  // Delivery → flush → commit. With may_wait, retries flush() with backoff.
  bool commit_progress(bool may_wait, const std::atomic<bool>* stop);
  void rewind(const std::string& why);
  void backoff(int attempt, const std::atomic<bool>& stop);
  void on_consumer_error(const rd_kafka_message_t& m);
  void dead_letter(std::string_view topic, std::int32_t partition, std::int64_t offset, std::string_view key,
                   std::string_view value, const outcome& o);
  const std::string& full_topic(std::string_view base);
  void update_lag();

  actor& actor_;
  runner_config rc_;
  metrics_registry metrics_;
  std::unique_ptr<metrics_server> server_;
  std::unique_ptr<kafka::producer> producer_;
  std::unique_ptr<kafka::consumer> consumer_;

  std::deque<kafka::message_ptr> pending_;
  std::map<tp_key, std::int64_t> done_;       // next offset to commit, per partition
  std::map<tp_key, std::int64_t> committed_;  // last committed (or start) offset
  std::set<tp_key> assigned_;
  std::map<std::string, std::string, std::less<>> topic_names_;
  std::string produce_error_;

  std::atomic<std::uint64_t>& consumed_;
  std::atomic<std::uint64_t>& dead_lettered_;
  std::atomic<std::uint64_t>& retried_;
  std::atomic<std::uint64_t>& batches_;
  std::atomic<std::uint64_t>& commits_;
  std::atomic<std::uint64_t>& data_loss_;
  std::atomic<std::uint64_t>& redone_;
  std::atomic<std::int64_t> lag_{0};
  std::atomic<bool> healthy_{true};
  std::chrono::steady_clock::time_point started_;
};

}  // namespace ctk::pipeline
