#include "pipeline/runner.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <xxhash.h>

#include <algorithm>
#include <random>
#include <thread>

#include "brokers/kafka_transport.h"
#include "config/loader.h"
#include "messages/envelope.h"
#include "pipeline/phase_timer.h"
#include "pipeline/process.h"

namespace ctk::pipeline {

using clock = std::chrono::steady_clock;

namespace {
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
  rc.producer["message.timeout.ms"] = std::to_string(s.runtime.delivery_timeout.ms);
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
      us_poll_(metrics_.seconds_counter("ctk_phase_poll_seconds_total", "time spent waiting for input")),
      us_handle_(metrics_.seconds_counter("ctk_phase_handle_seconds_total", "time spent in handle()")),
      us_delivery_(metrics_.seconds_counter("ctk_phase_delivery_seconds_total",
                                            "time spent waiting for the broker to acknowledge output")),
      us_flush_(metrics_.seconds_counter("ctk_phase_flush_seconds_total", "time spent in the actor's flush()")),
      us_commit_(metrics_.seconds_counter("ctk_phase_commit_seconds_total", "time spent committing offsets")),
      flush_seconds_(metrics_.histo("ctk_flush_duration_seconds",
                                    "one flush() of the actor (a sink: writing and committing one batch)")),
      commit_seconds_(metrics_.histo("ctk_offset_commit_duration_seconds", "one offset commit to the broker")),
      started_(clock::now()) {
  metrics_.counter_fn("ctk_produced_total", "messages produced and acknowledged",
                      [this] { return transport_ ? static_cast<double>(transport_->acked()) : 0.0; });
  metrics_.gauge("ctk_lag_messages", "high watermark minus position, summed over assigned partitions",
                 [this] { return static_cast<double>(lag_.load()); });
  metrics_.gauge("ctk_healthy", "1 when the last flush succeeded and a broker is reachable, else 0",
                 [this] { return healthy() ? 1.0 : 0.0; });
  metrics_.gauge("ctk_ready", "1 when healthy and the consumer has joined its group (/readyz), else 0",
                 [this] { return ready() ? 1.0 : 0.0; });
  metrics_.gauge("ctk_broker_connected", "1 while a Kafka broker answers this process, 0 while none does",
                 [this] { return connected_.load() ? 1.0 : 0.0; });
  metrics_.gauge("ctk_rss_bytes", "resident set size", [] { return static_cast<double>(rss_bytes()); });
  metrics_.gauge("ctk_supervisor_restarts", "restarts of this identity so far, as its supervisor (up, node) counted",
                 [this] { return static_cast<double>(rc_.restarts); });
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
  bool transient = false;
  if (transport_->produce(full_topic(topic), partition, key, value, err, b.seq, transient)) {
    ++b.outstanding;
  } else if (transient) {
    // The topic or the broker, now (authorization, no partitions known
    // after a broker error): the input is retried, not dead-lettered.
    if (unavailable_.empty()) unavailable_ = err;
  } else if (rejected_.empty()) {
    // The message itself (too large, a partition the topic lacks): refused
    // again on every retry, so the input is dead-lettered rather than redone forever.
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
  server_ = std::make_unique<metrics_server>(metrics_, [this] { return ready(); });
  if (server_->start(rc_.metrics_bind, rc_.metrics_port, err)) return true;
  // A taken port must not keep the data path down: any free port, said loudly.
  spdlog::warn("metrics: {}; using a free port instead", err);
  return rc_.metrics_port != 0 && server_->start(rc_.metrics_bind, 0, err);
}

int runner::run(const std::atomic<bool>& stop) {
  std::string err;
  // Metrics first: /healthz and /readyz answer while the clients start.
  if (!start_metrics(err) || !start_clients(err)) {
    spdlog::error("{}", err);
    return 1;
  }
  std::vector<std::string> topics;
  for (const auto& t : actor_.inputs()) topics.push_back(rc_.names.topic(t));
  spdlog::info("{} consuming {} as group {}; metrics on http://{}:{}/metrics", actor_.name(), fmt::join(topics, ","),
               rc_.names.group(actor_.name()), rc_.metrics_bind, server_->port());
  stop_ = &stop;
  start_control();
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_every_ = std::chrono::microseconds(usec / 2);
  sd_notifyf(0, "READY=1\nSTATUS=%s consuming, metrics on port %d", actor_.name().c_str(), server_->port());

  const std::size_t depth = static_cast<std::size_t>(rc_.runtime.max_inflight_batches);
  while (!stop.load()) {
    ping_watchdog();
    apply_control();
    {
      phase_timer t(us_poll_);
      collect_batch(stop);
    }
    if (pending_.empty() && !holding_for_rebalance_) {
      if (flush_requested().exchange(false))
        flush_caught_up(stop);
      else
        idle_actor();
    }
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
  sd_notify(0, "STOPPING=1");
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

void runner::ping_watchdog() {
  if (watchdog_every_.count() == 0) return;
  const auto now = clock::now();
  if (now < next_ping_) return;
  sd_notify(0, "WATCHDOG=1");
  next_ping_ = now + watchdog_every_;
}

void runner::collect_batch(const std::atomic<bool>& stop) {
  const auto deadline = clock::now() + rc_.runtime.batch_max_wait.value();
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
    unavailable_.clear();
    outcome o = actor_.handle(in, *this);
    if (!unavailable_.empty())
      o = outcome::retry("the producer cannot take this message's output now: " + unavailable_);
    else if (!rejected_.empty())
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
  double base = static_cast<double>(rc_.runtime.retry_initial.ms) * std::pow(2.0, std::min(attempt, 20));
  base = std::min<double>(base, static_cast<double>(rc_.runtime.retry_max.ms));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto deadline = clock::now() + std::chrono::milliseconds(static_cast<long>(base * jitter(rng)));
  // Keep serving the consumer (group membership, rebalances) while paused;
  // messages already fetched are kept, in order, behind the current batch.
  transport_->pause(transport_->assignment());
  std::vector<kafka::polled> got;
  while (clock::now() < deadline && !stop.load()) {
    ping_watchdog();  // waiting out a failing store is alive, not hung
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
      phase_timer t(us_flush_, &flush_seconds_);
      rejected_.clear();
      unavailable_.clear();
      o = checked_output(all ? actor_.flush_all(*this) : actor_.flush(*this));
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

outcome runner::checked_output(outcome o) {
  if (!rejected_.empty())
    spdlog::error("the producer refused output the actor made outside a message (dropped): {}", rejected_);
  if (!unavailable_.empty() && o.v == verdict::ok)
    o = outcome::retry("the producer cannot take output now: " + unavailable_);
  rejected_.clear();
  unavailable_.clear();
  return o;
}

void runner::flush_caught_up(const std::atomic<bool>& stop) {
  if (flush_actor(&stop, true) && !inflight_.empty()) inflight_.back().sealed = true;
  spdlog::info("input caught up: wrote everything held back, as SIGUSR1 asked");
}

void runner::idle_actor() {
  outcome o;
  {
    phase_timer t(us_flush_);
    rejected_.clear();
    unavailable_.clear();
    o = checked_output(actor_.idle(*this));
  }
  if (o.v == verdict::redo) {
    rewind(o.reason);
  } else if (o.v == verdict::retry) {
    // Tried again at the next idle poll or flush; the data stays uncommitted.
    // Said at once, then at most every 30 s (idle() runs after every empty poll).
    if (const auto now = clock::now(); idle_failures_ == 0 || now - idle_warned_ >= std::chrono::seconds(30)) {
      spdlog::warn("idle work failed ({} times so far; retried while idle): {}", idle_failures_ + 1, o.reason);
      idle_warned_ = now;
    }
    ++idle_failures_;
    healthy_.store(false);
    retried_.fetch_add(1);
  } else if (idle_failures_ > 0) {
    spdlog::info("idle work succeeded again after failing {} times", idle_failures_);
    idle_failures_ = 0;
    healthy_.store(true);
  }
}

}  // namespace ctk::pipeline
