// The runner's offsets and partitions: what is committed when (settle),
// redo from the last commit, data loss, and the rebalance callbacks.
#include <spdlog/spdlog.h>

#include "pipeline/phase_timer.h"
#include "pipeline/runner.h"

namespace ctk::pipeline {

void runner::settle(bool wait_all) {
  if (wait_all) {
    std::string err;
    if (!transport_->flush(err) && delivery_error_.empty()) delivery_error_ = err;
  } else {
    transport_->serve_deliveries(0);
  }
  if (!delivery_error_.empty()) {
    // Every report must be in before the batches are dropped and re-read.
    std::string err;
    transport_->flush(err);
    rewind(delivery_error_);
    return;
  }
  const std::size_t n = take_completed_batches();
  std::vector<kafka::topic_partition> commit = durable_offsets();
  if (commit.empty()) return;
  std::string err;
  bool ok;
  {
    phase_timer t(us_commit_, &commit_seconds_);
    ok = transport_->commit(commit, err);
  }
  if (!ok) {
    on_commit_refused(err);
    return;
  }
  for (const auto& o : commit) {
    committed_[{o.topic, o.partition}] = o.offset;
    broker_committed_[{o.topic, o.partition}] = o.offset;
  }
  // What a sink has not made durable yet stays, for a later commit.
  std::erase_if(to_commit_, [&](const auto& e) {
    auto c = broker_committed_.find(e.first);
    return c != broker_committed_.end() && c->second >= e.second;
  });
  batches_.fetch_add(n);
  if (holding_for_rebalance_) release_hold();
}

std::size_t runner::take_completed_batches() {
  std::size_t n = 0;
  std::vector<kafka::topic_partition> through;
  while (!inflight_.empty() && inflight_.front().sealed && inflight_.front().outstanding <= 0) {
    through.clear();
    for (const auto& [tp, off] : inflight_.front().offsets) {
      to_commit_[tp] = off;
      through.push_back({tp.first, tp.second, off});
    }
    inflight_.pop_front();
    ++n;
    // Its emits open a new batch at the back (the front one is gone).
    if (!through.empty()) actor_.on_acknowledged(through, *this);
  }
  return n;
}

std::vector<kafka::topic_partition> runner::durable_offsets() {
  std::vector<kafka::topic_partition> commit;
  for (const auto& [tp, off] : to_commit_) {
    if (!assigned_.count(tp)) continue;
    // A sink commits no further than its store is durable.
    const std::int64_t upto = std::min(off, actor_.durable(tp.first, tp.second, off));
    // Nothing new for the broker (a sink whose store has not moved on).
    auto c = broker_committed_.find(tp);
    if (c != broker_committed_.end() && c->second >= upto) continue;
    commit.push_back({tp.first, tp.second, upto});
  }
  return commit;
}

void runner::on_commit_refused(const std::string& err) {
  // Typically a rebalance in progress. The offsets stay in to_commit_ and
  // go with the next commit (the revoke callback tries once more; real
  // Kafka accepts it there, the embedded broker does not, so they are
  // carried into the next assignment); only a crash makes them redo.
  commits_.fetch_add(1);
  if (!holding_for_rebalance_ && err.find("rebalance in progress") != std::string::npos) {
    // Handle no more input until the rebalance is over: work done now could
    // not be committed either (the embedded broker refuses every commit
    // while its group is joining), so it would only be redone elsewhere.
    // Polling goes on (it drives the rebalance); what arrives is held, not
    // handled, and dropped with the revoke. (librdkafka's pause/resume is
    // not used for this: a resume after re-assignment re-fetched from a
    // stale position and redelivered messages.)
    spdlog::warn("{}; holding input until the next assignment, offsets kept", err);
    holding_for_rebalance_ = true;
  }
}

void runner::release_hold() {
  // A commit went through without a rebalance: handle the held input, and
  // re-read what was dropped over the cap.
  holding_for_rebalance_ = false;
  std::vector<kafka::topic_partition> back;
  for (const auto& [tp, off] : dropped_from_) back.push_back({tp.first, tp.second, off});
  dropped_from_.clear();
  if (back.empty()) return;
  std::erase_if(pending_, [&](const kafka::polled& m) {
    for (const auto& b : back)
      if (b.topic == m.topic && b.partition == m.partition) return true;
    return false;
  });
  std::string err;
  if (!transport_->seek(back, err)) spdlog::error("{}", err);
}

void runner::rewind(const std::string& why) {
  redone_.fetch_add(1);
  ++rewinds_;
  spdlog::error("output not acknowledged ({}); redoing from the last commit", why);
  delivery_error_.clear();
  std::vector<kafka::topic_partition> to;
  for (const auto& tp : assigned_) {
    auto it = committed_.find(tp);
    to.push_back({tp.first, tp.second, it == committed_.end() ? kafka::offset_beginning : it->second});
  }
  actor_.on_revoke(to);
  pending_.clear();
  inflight_.clear();
  to_commit_.clear();  // acknowledged, but the redo re-reads them anyway
  std::string err;
  if (!transport_->seek(to, err)) spdlog::error("{}", err);
}

void runner::on_consumer_error(const kafka::polled& m) {
  using kind = kafka::polled::kind;
  if (m.what == kind::partition_end) return;
  if (m.what != kind::out_of_range) {
    if (m.topic.empty())
      spdlog::warn("consumer: {}", m.error);
    else
      spdlog::warn("consumer: {}/{}: {}", m.topic, m.partition, m.error);
    return;
  }
  // The position fell outside the log: the broker dropped data we had not
  // consumed (the embedded broker keeps 5 MiB per partition), or the log
  // was truncated. Never skip silently: report, dead-letter a notice, then
  // continue from the oldest message still there.
  std::int64_t low = -1, high = -1;
  std::string err;
  if (!transport_->watermarks(m.topic, m.partition, low, high, err)) spdlog::error("{}", err);
  std::vector<kafka::topic_partition> starts;
  for (const auto& [tp, off] : committed_) starts.push_back({tp.first, tp.second, off});
  if (m.offset < 0) {
    // No position at all: the committed offsets could not be fetched at the
    // assignment and this partition has none. What the log held before its
    // start is unknown here, so it is not counted as loss.
    spdlog::warn("consumer: {}/{} has no committed offset; starting at the oldest message, {}", m.topic, m.partition,
                 low);
    if (!transport_->restart_at({m.topic, m.partition, low >= 0 ? low : kafka::offset_beginning}, starts, err))
      spdlog::error("{}", err);
    return;
  }
  const std::int64_t lost = m.offset >= 0 && low > m.offset ? low - m.offset : 0;
  const std::string reason =
      "DATA LOSS on " + m.topic + "/" + std::to_string(m.partition) + ": position " + std::to_string(m.offset) +
      " is outside the log [" + std::to_string(low) + ", " + std::to_string(high) + "); " +
      (lost > 0 ? std::to_string(lost) + " messages were dropped by the broker before they were consumed"
                : "the log was truncated or recreated") +
      "; resuming at " + std::to_string(low);
  spdlog::critical("{}", reason);
  data_loss_.fetch_add(static_cast<std::uint64_t>(lost));
  dead_letter(m.topic, m.partition, m.offset, m.topic, "", outcome::dead_letter("data_loss", reason));
  // What lies below the log start can never be read again: the batch that
  // carries the notice commits the new start, so the loss is reported once,
  // not again by whoever is assigned the partition next.
  if (low > m.offset) open_batch().offsets[{m.topic, m.partition}] = low;
  if (!transport_->restart_at({m.topic, m.partition, low >= 0 ? low : kafka::offset_beginning}, starts, err))
    spdlog::error("{}", err);
}

void runner::on_assign(std::vector<kafka::topic_partition>& parts) {
  // Partitions coming back whose output was acknowledged but whose commit
  // the broker refused during the rebalance: resume after that output.
  for (auto& p : parts) {
    // What the broker holds, before a carry or the actor moves the start.
    if (p.offset >= 0)
      broker_committed_[{p.topic, p.partition}] = p.offset;
    else
      broker_committed_.erase({p.topic, p.partition});
    auto it = carry_.find({p.topic, p.partition});
    if (it != carry_.end() && (p.offset < 0 || it->second > p.offset)) {
      p.offset = it->second;
      to_commit_[it->first] = it->second;
    }
  }
  carry_.clear();
  holding_for_rebalance_ = false;
  dropped_from_.clear();  // the new assignment fetches from its start offsets
  actor_.on_assign(parts);
  joined_.store(true);
  for (const auto& p : parts) {
    // The actor moved the start past the broker's commit (a sink whose
    // store holds more than Kafka knows): committed at the next settle, or
    // a partition that gets no new input would look behind forever.
    auto held = broker_committed_.find({p.topic, p.partition});
    if (p.offset >= 0 && (held == broker_committed_.end() || p.offset > held->second))
      to_commit_[{p.topic, p.partition}] = std::max(to_commit_[{p.topic, p.partition}], p.offset);
    assigned_.insert({p.topic, p.partition});
    if (p.offset >= 0)
      committed_[{p.topic, p.partition}] = p.offset;
    else
      committed_.erase({p.topic, p.partition});
  }
  spdlog::info("assigned {} partitions", parts.size());
}

void runner::on_revoke(const std::vector<kafka::topic_partition>& parts, bool lost) {
  // Finish and commit what is done before the partitions go: wait for the
  // output in flight, flush once (no backoff inside a rebalance), commit.
  // Whatever could not be made durable is redelivered to the new owner.
  if (!lost) {
    if (flush_actor(nullptr, true) && !inflight_.empty()) inflight_.back().sealed = true;
    settle(true);
  }
  for (const auto& p : parts) {
    const tp_key tp{p.topic, p.partition};
    if (auto it = to_commit_.find(tp); it != to_commit_.end() && !lost)
      carry_[tp] = std::min(it->second, actor_.durable(tp.first, tp.second, it->second));
    assigned_.erase(tp);
    committed_.erase(tp);
    broker_committed_.erase(tp);
    to_commit_.erase(tp);
    for (auto& b : inflight_) b.offsets.erase({p.topic, p.partition});
  }
  std::erase_if(pending_, [&](const kafka::polled& m) { return !assigned_.count({m.topic, m.partition}); });
  actor_.on_revoke(parts);
  spdlog::info("{} {} partitions", lost ? "lost" : "revoked", parts.size());
}

}  // namespace ctk::pipeline
