// The one actor contract (pipeline/README.md). An actor is
// a small class; the loop around it — polling, batching, offsets, retries,
// dead letters, metrics, shutdown — lives once in runner.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "brokers/transport.h"
#include "pipeline/metrics.h"

namespace ctk::pipeline {

enum class verdict { ok, retry, dead_letter, redo };

// What handle()/flush() tell the runner to do next.
struct outcome {
  verdict v = verdict::ok;
  std::string rule;    // machine-readable rule name for dead letters ("decode", "price_positive")
  std::string reason;  // human-readable: what failed and where

  static outcome ok() { return {}; }
  // Transient (a database down, a timeout): the runner backs off and calls again.
  static outcome retry(std::string reason) { return {verdict::retry, "", std::move(reason)}; }
  // Permanent for this record: the runner writes a dead letter and moves on.
  static outcome dead_letter(std::string rule, std::string reason) {
    return {verdict::dead_letter, std::move(rule), std::move(reason)};
  }
  // From flush()/idle() only: state written since the last commit is lost
  // (a half-written file): the runner re-reads every partition from its
  // last commit, after on_revoke() of all of them.
  static outcome redo(std::string reason) { return {verdict::redo, "", std::move(reason)}; }
};

// One consumed message. Views are valid during handle() only.
struct input {
  std::string_view topic;  // full name, with prefix
  std::int32_t partition;
  std::int64_t offset;
  std::string_view key;
  std::string_view value;
};

// The placement key of every news record on `valid` (and so on `unique`,
// whose partitions follow valid's): all news in one partition, each
// source's items in that source's order, so that one reader of that
// partition sees all news in order (the analyzer's news feed). Market
// records are placed by their symbol; other records by their key.
inline constexpr std::string_view news_placement_key = "news";

// Output of handle(): produced asynchronously; the runner waits for the
// broker's acknowledgement before it commits the input offsets.
class emitter {
 public:
  virtual ~emitter() = default;
  // topic is the base name ("valid"); the runner adds the prefix.
  // partition -1 = chosen by key.
  virtual void emit(std::string_view topic, std::string_view key, std::string_view value,
                    std::int32_t partition = -1) = 0;
  // The partition of `topic` that `partition_key` maps to (a stable hash,
  // the same in every process), for output that must be grouped by
  // something other than its message key (market records by symbol).
  // -1: the topic's partition count is unknown; emit() then uses the key.
  virtual std::int32_t partition_for(std::string_view /*topic*/, std::string_view /*partition_key*/) { return -1; }
  // A dead letter for an input the actor had accepted earlier (a row the
  // database rejected at flush time), in the same format handle()'s
  // dead_letter verdict produces. false: the producer refused it.
  virtual bool dead_letter(std::string_view topic, std::int32_t partition, std::int64_t offset, std::string_view key,
                           std::string_view value, const outcome& why) = 0;
};

class actor {
 public:
  virtual ~actor() = default;
  // false while the actor's own store is failing (read by the metrics
  // thread: keep it an atomic read); /readyz reports 503 then.
  virtual bool healthy() const { return true; }
  // A sink: the newest record it has stored per source (fetched_at, ms),
  // sent in heartbeats for the scheduler's freshness. Called from the
  // control plane's thread.
  virtual std::vector<std::pair<std::string, std::int64_t>> stored_marks() const { return {}; }
  virtual std::string name() const = 0;                 // "validator"; also the consumer group (with prefix)
  virtual std::vector<std::string> inputs() const = 0;  // base topic names consumed
  // Base topic names emit() writes to (besides `deadletter`): the producer
  // learns their metadata before the first input is consumed.
  virtual std::vector<std::string> outputs() const { return {}; }
  virtual outcome handle(const input& in, emitter& out) = 0;
  // Makes everything handled so far durable (a sink's write). Called when
  // a batch is sealed, after handle() of its last input; what the batch
  // emitted may still be in flight. Offsets are committed after this
  // flush's output and the batch's are acknowledged.
  // May emit (e.g. dead letters for rows a database rejected).
  // A sink may write later than this (rows gathered into bigger
  // transactions, files rotated by size or age) and then reports, through
  // durable(), how far its store really is.
  virtual outcome flush(emitter&) { return outcome::ok(); }
  // Before a stop or a revoke: write everything held back, whatever the
  // size and age thresholds say.
  virtual outcome flush_all(emitter& out) { return flush(out); }
  // Called when a poll brought no input: time-driven work (a file past its
  // age limit is committed, rows waiting too long are written).
  virtual outcome idle(emitter&) { return outcome::ok(); }
  // The offset up to which the input of topic/partition is durable in the
  // actor's own store, given `next`, the offset the runner would commit.
  // The runner commits no further than this, so Kafka's committed offset
  // never runs ahead of a sink's store.
  virtual std::int64_t durable(std::string_view /*topic*/, std::int32_t /*partition*/, std::int64_t next) {
    return next;
  }
  // A sealed batch's output (and every earlier batch's) is acknowledged:
  // input up to `through` (next offsets, per partition) is done and about
  // to be committed. For output that may only follow other output once
  // that is stored (dedup's checkpoint follows its `unique` records, which
  // may live on another broker). What is emitted here joins the open batch.
  virtual void on_acknowledged(const std::vector<kafka::topic_partition>& /*through*/, emitter&) {}
  // Partitions arrive with their start offsets, which the actor may change.
  virtual void on_assign(std::vector<kafka::topic_partition>&) {}
  // Partitions leave (or a batch is redone): drop un-flushed state for them.
  virtual void on_revoke(const std::vector<kafka::topic_partition>&) {}
};

}  // namespace ctk::pipeline
