// The actor loop, written once:
//   poll a batch (count or time) → handle() each message (ok / retry /
//   dead-letter) → actor.flush() (sink output durable) → once the broker
//   acknowledged every message produced from the batch → commit its input
//   offsets. Up to runtime.max_inflight_batches batches are handled while
//   earlier output is still being acknowledged; offsets are committed only
//   for the completed prefix of batches, in order.
// A crash anywhere before the commit means redelivery, never loss. SIGTERM
// finishes the batch, waits for its output, commits, leaves the group and
// exits 0. SIGUSR1 asks for everything held back (rows gathered, an open
// file) to be written and committed at the first poll that brings nothing.
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

#include "brokers/control.h"
#include "brokers/transport.h"
#include "config/settings.h"
#include "pipeline/actor.h"
#include "pipeline/metrics.h"
#include "pipeline/process.h"

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
  // The control plane (brokers/control.h): heartbeats to the scheduler and
  // its commands. Off when control.router is empty.
  cfg::control_settings control;
  std::string config_dir;  // re-read on `reload`
  int restarts = 0;        // restarts of this identity so far (from the supervisor), for heartbeats
};

// The labels of an actor's series: {node, actor, identity}; never
// `instance`, which Prometheus sets to the scrape target.
inline label_set actor_labels(const std::string& actor, const std::string& identity) {
  return {{"node", identity.substr(0, identity.find('/'))}, {"actor", actor}, {"identity", identity}};
}

// Builds a runner_config from loaded settings (kafka, runtime, metrics).
runner_config make_runner_config(const cfg::cluster_settings& s, const std::string& identity);

class runner final : kafka::rebalance_listener, public emitter {
 public:
  // Over Kafka (the transport is made from rc at run()), or over the given
  // transport (brokers/memory_transport.h in unit tests). The runner's own
  // series join the actor's in `metrics` (labels: actor_labels()), which
  // outlives the runner.
  runner(actor& a, runner_config rc, metrics_registry& metrics, std::unique_ptr<kafka::transport> over = nullptr);
  ~runner() override;

  // Runs until `stop` is set. Returns the exit code: 0 after a clean drain,
  // 1 when the loop could not start (bad config, broker unreachable).
  int run(const std::atomic<bool>& stop);

  metrics_registry& metrics() { return metrics_; }
  int metrics_port() const;

  void emit(std::string_view topic, std::string_view key, std::string_view value, std::int32_t partition) override;
  std::int32_t partition_for(std::string_view topic, std::string_view partition_key) override;
  // false: not even a truncated dead letter could be produced (retry).
  bool dead_letter(std::string_view topic, std::int32_t partition, std::int64_t offset, std::string_view key,
                   std::string_view value, const outcome& o) override;

 private:
  using tp_key = std::pair<std::string, std::int32_t>;

  void on_assign(std::vector<kafka::topic_partition>& parts) override;
  void on_revoke(const std::vector<kafka::topic_partition>& parts, bool lost) override;

  // Input offsets of one batch and the output still unacknowledged.
  struct batch {
    std::uint64_t seq = 0;
    std::map<tp_key, std::int64_t> offsets;  // next offset to commit, per partition
    std::int64_t outstanding = 0;            // produced, awaiting a delivery report
    bool sealed = false;                     // handled and flushed
  };

  // run()'s start-up steps: the transport's producer and consumer (false: err), the
  // metrics endpoint (a taken port falls back to a free one), the control agent.
  bool start_clients(std::string& err);
  bool start_metrics(std::string& err);
  void start_control();
  void collect_batch(const std::atomic<bool>& stop);
  // false: abandoned (stop requested or partition revoked while retrying)
  bool handle_one(const kafka::polled& m, const std::atomic<bool>& stop);
  // actor.flush() (or flush_all()); with a stop flag, retried with backoff
  // until it succeeds. false: not flushed (or redone: the batches are gone).
  bool flush_actor(const std::atomic<bool>* stop, bool all);
  // actor.idle() after a poll that brought nothing.
  void idle_actor();
  // Instead of idle_actor() once SIGUSR1 asked (flush_requested()): the
  // input has caught up, so flush_all() now; the next settle() commits.
  void flush_caught_up(const std::atomic<bool>& stop);
  // Serves delivery reports and commits every completed batch at the front.
  // `wait_all`: first wait until every produced message is reported.
  void settle(bool wait_all);
  // settle()'s steps: sealed, acknowledged batches at the front → to_commit_
  // (returns how many); to_commit_ capped by the actor's durable(), minus
  // what the broker holds already; a refused commit; the end of a hold.
  std::size_t take_completed_batches();
  std::vector<kafka::topic_partition> durable_offsets();
  void on_commit_refused(const std::string& err);
  void release_hold();
  // What flush() and idle() said, made a retry when their output could
  // not be produced now (the topic's or broker's state).
  outcome checked_output(outcome o);
  void rewind(const std::string& why);
  batch& open_batch();
  void backoff(int attempt, const std::atomic<bool>& stop);
  void on_consumer_error(const kafka::polled& m);
  const std::string& full_topic(std::string_view base);
  void update_lag();
  // connected_ from the clients' broker links (a metadata probe at most once a second while down).
  void check_brokers();
  bool healthy() const { return healthy_.load() && connected_.load() && actor_.healthy(); }
  // /readyz: healthy, and the consumer has joined its group (an assignment, maybe empty).
  bool ready() const { return joined_.load() && healthy(); }
  // Applies pause/resume asked for over the control plane.
  void apply_control();
  void on_control(const control::command& c);

  actor& actor_;
  runner_config rc_;
  metrics_registry& metrics_;
  std::unique_ptr<metrics_server> server_;
  std::unique_ptr<kafka::transport> transport_;

  std::deque<kafka::polled> pending_;
  std::deque<batch> inflight_;  // oldest first; the back is the one being filled
  std::uint64_t next_seq_ = 1;
  std::uint64_t rewinds_ = 0;   // a message in retry is abandoned when this changes
  std::string delivery_error_;  // first failure since the last rewind
  std::string rejected_;        // why the producer refused output of the current message
  std::string unavailable_;     // why the producer could not take output now (the topic's or broker's state)
  std::map<tp_key, std::int64_t> committed_;             // last committed (or start) offset: where a redo seeks
  std::map<tp_key, std::int64_t> broker_committed_;      // what the broker holds: commits with nothing new are skipped
  std::map<tp_key, std::int64_t> to_commit_;             // acknowledged output, commit refused so far (retried)
  std::map<tp_key, std::int64_t> carry_;                 // to_commit_ of revoked partitions, reused if they come back
  int idle_failures_ = 0;                                // idle() said retry this many times in a row
  std::chrono::steady_clock::time_point idle_warned_{};  // the last warning about it
  bool holding_for_rebalance_ = false;           // a commit was refused: poll, but handle nothing until reassigned
  std::map<tp_key, std::int64_t> dropped_from_;  // held input dropped over the cap: first offset per partition
  std::set<tp_key> assigned_;
  std::map<std::string, std::string, std::less<>> topic_names_;

  std::atomic<std::uint64_t>& consumed_;
  std::atomic<std::uint64_t>& dead_lettered_;
  std::atomic<std::uint64_t>& retried_;
  std::atomic<std::uint64_t>& batches_;
  std::atomic<std::uint64_t>& commits_;
  std::atomic<std::uint64_t>& data_loss_;
  std::atomic<std::uint64_t>& redone_;
  // Seconds spent per phase, in microseconds (metrics and the stop summary).
  std::atomic<std::uint64_t>& us_poll_;
  std::atomic<std::uint64_t>& us_handle_;
  std::atomic<std::uint64_t>& us_delivery_;
  std::atomic<std::uint64_t>& us_flush_;
  std::atomic<std::uint64_t>& us_commit_;
  histogram& flush_seconds_;   // one flush() of the actor: a sink's write of a batch
  histogram& commit_seconds_;  // one offset commit
  std::atomic<std::int64_t> lag_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<bool> connected_{true};  // false while no broker answers (heartbeat state "disconnected")
  std::atomic<bool> joined_{false};    // the first assignment arrived
  std::chrono::steady_clock::time_point next_probe_{};
  std::chrono::steady_clock::time_point next_lag_{};  // update_lag(): at most twice a second
  std::atomic<bool> pause_requested_{false};
  const std::atomic<bool>* stop_ = nullptr;
  // systemd's notify protocol (sd_notify): READY=1 once consuming,
  // WATCHDOG=1 from the loop every half of WATCHDOG_USEC (systemd's
  // WatchdogSec, or the supervisor's runtime.watchdog).
  void ping_watchdog();
  std::chrono::microseconds watchdog_every_{0};
  std::chrono::steady_clock::time_point next_ping_{};
  std::unique_ptr<control::agent> agent_;
  node_meter node_meter_;  // read on the agent's thread only
  std::chrono::steady_clock::time_point started_;
};

}  // namespace ctk::pipeline
