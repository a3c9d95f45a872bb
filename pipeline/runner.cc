#include "pipeline/runner.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <random>
#include <thread>

#include "brokers/kafka_transport.h"
#include "config/loader.h"
#include "messages/envelope.h"
#include "pipeline/process.h"

extern char** environ;

namespace ctk::pipeline {

using clock = std::chrono::steady_clock;

namespace {
// Adds the time from construction to destruction to a microsecond counter.
class phase_timer {
 public:
  explicit phase_timer(std::atomic<std::uint64_t>& c) : c_(c), t0_(clock::now()) {}
  ~phase_timer() {
    c_.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0_).count()));
  }

 private:
  std::atomic<std::uint64_t>& c_;
  clock::time_point t0_;
};
double secs(const std::atomic<std::uint64_t>& us) { return static_cast<double>(us.load()) / 1e6; }
}  // namespace

runner_config make_runner_config(const cfg::cluster_settings& s, const std::string& identity) {
  runner_config rc;
  rc.identity = identity;
  rc.names.prefix = s.kafka.prefix;
  rc.client = s.kafka.properties;
  rc.client["bootstrap.servers"] = s.kafka.bootstrap;
  rc.client["client.id"] = identity;
  rc.producer = s.kafka.producer;
  rc.consumer = s.kafka.consumer;
  rc.producer["message.timeout.ms"] = std::to_string(s.runtime.delivery_timeout_ms);
  rc.runtime = s.runtime;
  rc.metrics_bind = s.metrics.bind;
  rc.metrics_port = s.metrics.base_port;
  rc.control = s.control;
  return rc;
}

runner::runner(actor& a, runner_config rc, metrics_registry& metrics, std::unique_ptr<kafka::transport> over)
    : actor_(a),
      rc_(std::move(rc)),
      metrics_(metrics),
      transport_(std::move(over)),
      consumed_(metrics_.counter("ctk_consumed_total", "messages consumed")),
      dead_lettered_(metrics_.counter("ctk_dead_lettered_total", "messages sent to the dead-letter topic")),
      retried_(metrics_.counter("ctk_retried_total", "retries after handle() or flush() said retry")),
      batches_(metrics_.counter("ctk_batches_total", "batches committed")),
      commits_(metrics_.counter("ctk_commit_failures_total", "offset commits that failed (input redelivered)")),
      data_loss_(metrics_.counter("ctk_data_loss_messages_total",
                                  "messages the broker dropped before they were consumed (offset out of range)")),
      redone_(metrics_.counter("ctk_batches_redone_total", "batches redone after a delivery failure")),
      us_poll_(metrics_.counter("ctk_phase_poll_microseconds_total", "time spent waiting for input")),
      us_handle_(metrics_.counter("ctk_phase_handle_microseconds_total", "time spent in handle()")),
      us_delivery_(metrics_.counter("ctk_phase_delivery_microseconds_total",
                                    "time spent waiting for the broker to acknowledge output")),
      us_flush_(metrics_.counter("ctk_phase_flush_microseconds_total", "time spent in the actor's flush()")),
      us_commit_(metrics_.counter("ctk_phase_commit_microseconds_total", "time spent committing offsets")),
      started_(clock::now()) {
  metrics_.counter_fn("ctk_produced_total", "messages produced and acknowledged",
                      [this] { return transport_ ? static_cast<double>(transport_->acked()) : 0.0; });
  metrics_.gauge("ctk_lag_messages", "high watermark minus position, summed over assigned partitions",
                 [this] { return static_cast<double>(lag_.load()); });
  metrics_.gauge("ctk_healthy", "1 when the last flush succeeded and a broker is reachable, else 0",
                 [this] { return healthy() ? 1.0 : 0.0; });
  metrics_.gauge("ctk_broker_connected", "1 while a Kafka broker answers this process, 0 while none does",
                 [this] { return connected_.load() ? 1.0 : 0.0; });
  metrics_.gauge("ctk_rss_bytes", "resident set size", [] { return static_cast<double>(rss_bytes()); });
  metrics_.gauge("ctk_uptime_seconds", "seconds since start",
                 [this] { return std::chrono::duration<double>(clock::now() - started_).count(); });
}

runner::~runner() = default;

int runner::metrics_port() const { return server_ ? server_->port() : 0; }

const std::string& runner::full_topic(std::string_view base) {
  auto it = topic_names_.find(base);
  if (it == topic_names_.end()) it = topic_names_.emplace(std::string(base), rc_.names.topic(base)).first;
  return it->second;
}

runner::batch& runner::open_batch() {
  if (inflight_.empty() || inflight_.back().sealed) {
    inflight_.emplace_back();
    inflight_.back().seq = next_seq_++;
  }
  return inflight_.back();
}

void runner::emit(std::string_view topic, std::string_view key, std::string_view value, std::int32_t partition) {
  batch& b = open_batch();
  std::string err;
  if (transport_->produce(full_topic(topic), partition, key, value, err, b.seq)) {
    ++b.outstanding;
  } else if (rejected_.empty()) {
    // Refused outright (too large, unknown partition, ...): refused again on
    // every retry, so the input is dead-lettered rather than redone forever.
    rejected_ = err;
  }
}

std::int32_t runner::partition_for(std::string_view topic, std::string_view partition_key) {
  const std::string& full = full_topic(topic);
  std::int32_t n = transport_->partition_count(full);
  if (n <= 0) {
    std::string err;  // not learned at start (broker slow): ask now, once per call until known
    if (!transport_->prepare({full}, 5000, err))
      spdlog::warn("partitions of {} unknown ({}); placing by key", full, err);
    n = transport_->partition_count(full);
  }
  if (n <= 0) return -1;
  return static_cast<std::int32_t>(XXH3_64bits(partition_key.data(), partition_key.size()) %
                                   static_cast<std::uint64_t>(n));
}

bool runner::start_clients(std::string& err) {
  if (!transport_) {
    kafka::properties pprops = rc_.client;
    for (const auto& [k, v] : rc_.producer) pprops[k] = v;
    kafka::properties cprops = rc_.client;
    for (const auto& [k, v] : rc_.consumer) cprops[k] = v;
    transport_ = kafka::kafka_transport::create(pprops, std::move(cprops), err);
    if (!transport_) return false;
  }
  transport_->on_delivery([this](std::uint64_t seq, const std::string& e) {
    if (!e.empty() && delivery_error_.empty()) delivery_error_ = e;
    for (auto& b : inflight_)
      if (b.seq == seq) {
        --b.outstanding;
        break;
      }
  });
  std::vector<std::string> out{rc_.names.topic("deadletter")};
  for (const auto& t : actor_.outputs()) out.push_back(rc_.names.topic(t));
  if (!transport_->prepare(out, 10000, err)) spdlog::warn("output topics not ready yet ({}); producing anyway", err);
  std::vector<std::string> topics;
  for (const auto& t : actor_.inputs()) topics.push_back(rc_.names.topic(t));
  return transport_->subscribe(rc_.names.group(actor_.name()), topics, this, err);
}

bool runner::start_metrics(std::string& err) {
  server_ = std::make_unique<metrics_server>(metrics_, [this] { return healthy(); });
  if (server_->start(rc_.metrics_bind, rc_.metrics_port, err)) return true;
  // A taken port must not keep the data path down: any free port, said loudly.
  spdlog::warn("metrics: {}; using a free port instead", err);
  return rc_.metrics_port != 0 && server_->start(rc_.metrics_bind, 0, err);
}

void runner::start_control() {
  if (rc_.control.router.empty()) return;
  agent_ = std::make_unique<control::agent>(
      rc_.control, rc_.identity,
      [this] {
        control::snapshot s;
        s.state = stop_->load()             ? "draining"
                  : !connected_.load()      ? "disconnected"
                  : pause_requested_.load() ? "paused"
                                            : "running";
        s.consumed = consumed_.load();
        s.produced = transport_->acked();
        s.lag = lag_.load();
        s.dead_letters = dead_lettered_.load();
        s.rss_bytes = static_cast<std::int64_t>(rss_bytes());
        s.restarts = rc_.restarts;
        return s;
      },
      [this](const control::command& c) { on_control(c); });
  agent_->start();
}

int runner::run(const std::atomic<bool>& stop) {
  std::string err;
  if (!start_clients(err) || !start_metrics(err)) {
    spdlog::error("{}", err);
    return 1;
  }
  std::vector<std::string> topics;
  for (const auto& t : actor_.inputs()) topics.push_back(rc_.names.topic(t));
  spdlog::info("{} consuming {} as group {}; metrics on http://{}:{}/metrics", actor_.name(), fmt::join(topics, ","),
               rc_.names.group(actor_.name()), rc_.metrics_bind, server_->port());
  stop_ = &stop;
  start_control();

  const std::size_t depth = static_cast<std::size_t>(rc_.runtime.max_inflight_batches);
  while (!stop.load()) {
    apply_control();
    {
      phase_timer t(us_poll_);
      collect_batch(stop);
    }
    if (pending_.empty() && !holding_for_rebalance_) idle_actor();
    if (!pending_.empty() && !holding_for_rebalance_) {
      bool complete = true;
      {
        phase_timer t(us_handle_);
        while (!pending_.empty()) {
          kafka::polled m = std::move(pending_.front());
          pending_.pop_front();
          if (!assigned_.count({m.topic, m.partition})) continue;  // revoked meanwhile
          if (!handle_one(m, stop) && stop.load()) {
            complete = false;
            break;
          }
        }
      }
      if (!complete) pending_.clear();  // not handled: redelivered after restart
    }
    // Seal the open batch (it may hold only a dead letter written while polling).
    if (!inflight_.empty() && !inflight_.back().sealed && flush_actor(&stop, false)) inflight_.back().sealed = true;
    // Output of earlier batches is acknowledged meanwhile; wait only when
    // the pipeline is full.
    {
      phase_timer t(us_delivery_);
      settle(false);
      while (inflight_.size() >= depth && delivery_error_.empty() && !stop.load()) {
        transport_->serve_deliveries(5);
        settle(false);
      }
    }
    update_lag();
    check_brokers();
  }
  spdlog::info("stopping: committing finished work and leaving the group");
  if (flush_actor(nullptr, true) && !inflight_.empty()) inflight_.back().sealed = true;
  settle(true);
  transport_->close();  // revoke → on_revoke commits anything left
  std::string ferr;
  if (!transport_->flush(ferr)) spdlog::error("while stopping: {}", ferr);
  if (agent_) agent_->stop();  // its last heartbeat says "stopped"
  spdlog::info(
      "stopped: consumed {}, produced {}, dead-lettered {}; seconds in poll {:.2f}, handle {:.2f}, "
      "delivery {:.2f}, flush {:.2f}, commit {:.2f}",
      consumed_.load(), transport_->acked(), dead_lettered_.load(), secs(us_poll_), secs(us_handle_),
      secs(us_delivery_), secs(us_flush_), secs(us_commit_));
  return 0;
}

void runner::collect_batch(const std::atomic<bool>& stop) {
  const auto deadline = clock::now() + std::chrono::milliseconds(rc_.runtime.batch_max_ms);
  const std::size_t max = static_cast<std::size_t>(rc_.runtime.batch_max_messages);
  std::vector<kafka::polled> got;
  while ((pending_.size() < max || holding_for_rebalance_) && !stop.load()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) break;
    // An empty batch waits (in short slices, so a stop is prompt); a started
    // one takes what is already fetched and goes.
    got.clear();
    transport_->poll_batch(
        static_cast<int>(std::min<long long>(left, pending_.empty() || holding_for_rebalance_ ? 100 : 1)),
        pending_.size() < max ? max - pending_.size() : max, got);
    if (got.empty() && !pending_.empty()) break;
    for (auto& m : got) {
      if (m.what != kafka::polled::kind::message) {
        on_consumer_error(m);
      } else if (holding_for_rebalance_ && pending_.size() >= 4 * max) {
        // Bounded while holding: drop, and remember where to re-read from.
        dropped_from_.try_emplace({m.topic, m.partition}, m.offset);
      } else {
        pending_.push_back(std::move(m));
      }
    }
  }
}

bool runner::handle_one(const kafka::polled& m, const std::atomic<bool>& stop) {
  const std::string& topic = m.topic;
  const input in{topic, m.partition, m.offset, m.key, m.value};
  consumed_.fetch_add(1);
  const std::uint64_t rewinds_at_start = rewinds_;
  for (int attempt = 0;; ++attempt) {
    rejected_.clear();
    outcome o = actor_.handle(in, *this);
    if (!rejected_.empty())
      o = outcome::dead_letter("output_rejected", "the producer refused this message's output: " + rejected_);
    if (o.v == verdict::ok) break;
    if (o.v == verdict::dead_letter) {
      if (dead_letter(topic, m.partition, m.offset, in.key, in.value, o)) break;
      o = outcome::retry("the dead letter could not be written");
    }
    retried_.fetch_add(1);
    if (attempt == 0 || attempt % 10 == 0)
      spdlog::warn("{}/{}@{}: retrying (attempt {}): {}", topic, m.partition, m.offset, attempt + 1, o.reason);
    backoff(attempt, stop);
    if (stop.load()) return false;
    if (!assigned_.count({topic, m.partition})) return false;  // the partition moved while we waited
    // A rewind while we waited re-reads from the last commit, this message included.
    if (rewinds_ != rewinds_at_start) return false;
  }
  open_batch().offsets[{topic, m.partition}] = m.offset + 1;
  return true;
}

bool runner::dead_letter(std::string_view topic, std::int32_t partition, std::int64_t offset, std::string_view key,
                         std::string_view value, const outcome& o) {
  msg::dead_letter dl;
  dl.reason = o.reason;
  dl.rule = o.rule;
  dl.actor = rc_.identity;
  dl.topic = std::string(topic);
  dl.partition = partition;
  dl.offset = offset;
  dl.at = msg::utc_now_iso();
  if (!key.empty()) dl.key = msg::is_valid_utf8(key) ? std::string(key) : msg::base64_encode(key);
  const std::string_view dl_key = key.empty() ? topic : key;
  constexpr std::size_t truncated_size = 1024;
  for (bool truncate : {false, true}) {
    if (truncate && value.size() <= truncated_size) break;
    dl.set_original(truncate ? value.substr(0, truncated_size) : value);
    if (truncate) {
      dl.original_truncated = true;
      dl.original_size = static_cast<std::int64_t>(value.size());
    }
    std::string out, err;
    if (!msg::encode(dl, out, &err)) {
      spdlog::critical("cannot encode a dead letter for {}/{}@{} ({}): {}", topic, partition, offset, err, o.reason);
      return false;
    }
    rejected_.clear();
    emit("deadletter", dl_key, out, -1);
    if (rejected_.empty()) {
      spdlog::debug("dead letter {}/{}@{}: {}", topic, partition, offset, o.reason);
      dead_lettered_.fetch_add(1);
      return true;
    }
  }
  spdlog::critical("the dead letter for {}/{}@{} was refused by the producer ({}); not committing past it: {}", topic,
                   partition, offset, rejected_, o.reason);
  return false;
}

void runner::backoff(int attempt, const std::atomic<bool>& stop) {
  healthy_.store(false);
  static thread_local std::mt19937 rng{std::random_device{}()};
  double base = rc_.runtime.retry_initial_ms * std::pow(2.0, std::min(attempt, 20));
  base = std::min<double>(base, rc_.runtime.retry_max_ms);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto deadline = clock::now() + std::chrono::milliseconds(static_cast<long>(base * jitter(rng)));
  // Keep serving the consumer (group membership, rebalances) while paused;
  // messages already fetched are kept, in order, behind the current batch.
  transport_->pause(transport_->assignment());
  std::vector<kafka::polled> got;
  while (clock::now() < deadline && !stop.load()) {
    got.clear();
    transport_->poll_batch(50, 1, got);
    for (auto& m : got)
      if (m.what != kafka::polled::kind::message)
        on_consumer_error(m);
      else
        pending_.push_back(std::move(m));
  }
  transport_->resume(transport_->assignment());
}

bool runner::flush_actor(const std::atomic<bool>* stop, bool all) {
  for (int attempt = 0;; ++attempt) {
    outcome o;
    {
      phase_timer t(us_flush_);
      o = all ? actor_.flush_all(*this) : actor_.flush(*this);
    }
    if (o.v == verdict::redo) {
      rewind(o.reason);
      return false;
    }
    if (o.v != verdict::retry) {
      healthy_.store(true);
      return true;
    }
    retried_.fetch_add(1);
    if (attempt == 0 || attempt % 10 == 0) spdlog::warn("flush failed (attempt {}): {}", attempt + 1, o.reason);
    if (!stop) return false;
    backoff(attempt, *stop);
    if (stop->load()) return false;
  }
}

void runner::idle_actor() {
  outcome o;
  {
    phase_timer t(us_flush_);
    o = actor_.idle(*this);
  }
  if (o.v == verdict::redo) {
    rewind(o.reason);
  } else if (o.v == verdict::retry) {
    // Tried again at the next idle poll or flush; the data stays uncommitted.
    if (!idle_failing_) spdlog::warn("idle work failed (retried while idle): {}", o.reason);
    idle_failing_ = true;
    healthy_.store(false);
    retried_.fetch_add(1);
  } else if (idle_failing_) {
    spdlog::info("idle work succeeded again");
    idle_failing_ = false;
    healthy_.store(true);
  }
}

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
  std::size_t n = 0;
  while (!inflight_.empty() && inflight_.front().sealed && inflight_.front().outstanding <= 0) {
    for (const auto& [tp, off] : inflight_.front().offsets) to_commit_[tp] = off;
    inflight_.pop_front();
    ++n;
  }
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
  if (commit.empty()) return;
  std::string err;
  bool ok;
  {
    phase_timer t(us_commit_);
    ok = transport_->commit(commit, err);
  }
  if (!ok) {
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
  if (holding_for_rebalance_) {
    // The commit went through without a rebalance: handle the held input,
    // and re-read what was dropped over the cap.
    holding_for_rebalance_ = false;
    std::vector<kafka::topic_partition> back;
    for (const auto& [tp, off] : dropped_from_) back.push_back({tp.first, tp.second, off});
    dropped_from_.clear();
    if (!back.empty()) {
      std::erase_if(pending_, [&](const kafka::polled& m) {
        for (const auto& b : back)
          if (b.topic == m.topic && b.partition == m.partition) return true;
        return false;
      });
      if (!transport_->seek(back, err)) spdlog::error("{}", err);
    }
  }
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
  std::vector<kafka::topic_partition> starts;
  for (const auto& [tp, off] : committed_) starts.push_back({tp.first, tp.second, off});
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
  for (const auto& p : parts) {
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

void runner::update_lag() { lag_.store(transport_->lag()); }

void runner::check_brokers() {
  if (!transport_->brokers_down()) {
    connected_.store(true);
    return;
  }
  // The client keeps reconnecting by itself; a probe only tells when it has.
  const auto now = clock::now();
  if (now < next_probe_) return;
  next_probe_ = now + std::chrono::seconds(1);
  const bool up = transport_->probe_brokers(200);
  if (connected_.exchange(up) != up) {
    if (up)
      spdlog::info("broker reachable again");
    else
      spdlog::error("no broker reachable: status and /healthz say disconnected until one answers");
  }
}

// Called on the control agent's thread: only atomics and thread-safe calls.
void runner::on_control(const control::command& c) {
  if (c.cmd == "pause") {
    pause_requested_ = true;
  } else if (c.cmd == "resume") {
    pause_requested_ = false;
  } else if (c.cmd == "drain") {
    request_stop();  // as SIGTERM: finish the batch, commit, leave the group, exit 0
  } else if (c.cmd == "stop") {
    spdlog::warn("control: stop: exiting now; uncommitted input is redelivered to the group");
    spdlog::default_logger()->flush();
    std::_Exit(130);  // as a second Ctrl-C
  } else if (c.cmd == "log-level") {
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(spdlog::level::from_str(c.arg)); });
  } else if (c.cmd == "reload") {
    if (rc_.config_dir.empty()) return;
    cfg::loaded_config fresh;
    auto errors = cfg::load_config(rc_.config_dir, fresh, environ);
    if (!errors.empty()) {
      spdlog::error("reload: {} config error(s), nothing changed; first: {}", errors.size(),
                    errors.front().to_string());
      return;
    }
    // What changes live (docs: pipeline/README.md): the log level. The rest
    // (topics, batching, sources, stores) takes a drain and a restart.
    const auto level = spdlog::level::from_str(fresh.cluster.runtime.log_level);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
    spdlog::info("reload: log level {}; other settings apply at the next start", fresh.cluster.runtime.log_level);
  }
}

// On the loop's thread: hold or release every assigned partition. The loop
// keeps polling while held (rebalances, heartbeats to the group); partitions
// assigned meanwhile are held as they are assigned (before any fetch).
void runner::apply_control() {
  const bool want = pause_requested_.load();
  if (want == transport_->held()) return;
  transport_->hold(want);
  const auto n = transport_->assignment().size();
  if (want)
    spdlog::info("paused: consumption of {} partitions stopped (control)", n);
  else
    spdlog::info("resumed: consuming {} partitions again (control)", n);
}

}  // namespace ctk::pipeline
