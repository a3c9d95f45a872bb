// The one actor contract (STYLE.md "What that means here" §3). An actor is
// a small class; the loop around it — polling, batching, offsets, retries,
// dead letters, metrics, shutdown — lives once in runner.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "brokers/kafka.h"

namespace ctk::pipeline {

enum class verdict { ok, retry, dead_letter };

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
};

// One consumed message. Views are valid during handle() only.
struct input {
  std::string_view topic;  // full name, with prefix
  std::int32_t partition;
  std::int64_t offset;
  std::string_view key;
  std::string_view value;
};

// Output of handle(): produced asynchronously; the runner waits for the
// broker's acknowledgement before it commits the input offsets.
class emitter {
 public:
  virtual ~emitter() = default;
  // topic is the base name ("valid"); the runner adds the prefix.
  // partition -1 = chosen by key.
  virtual void emit(std::string_view topic, std::string_view key, std::string_view value,
                    std::int32_t partition = -1) = 0;
};

class actor {
 public:
  virtual ~actor() = default;
  virtual std::string name() const = 0;                 // "validator"; also the consumer group (with prefix)
  virtual std::vector<std::string> inputs() const = 0;  // base topic names consumed
  virtual outcome handle(const input& in, emitter& out) = 0;
  // Makes everything handled so far durable (a sink's write). Called after
  // the batch's output is acknowledged and before offsets are committed.
  // May emit (e.g. dead letters for rows a database rejected).
  virtual outcome flush(emitter&) { return outcome::ok(); }
  // Partitions arrive with their start offsets, which the actor may change.
  virtual void on_assign(std::vector<kafka::topic_partition>&) {}
  // Partitions leave (or a batch is redone): drop un-flushed state for them.
  virtual void on_revoke(const std::vector<kafka::topic_partition>&) {}
};

}  // namespace ctk::pipeline
