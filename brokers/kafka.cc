#include "brokers/kafka.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <thread>

#include "brokers/kafka_lists.h"

namespace ctk::kafka {

namespace {

std::shared_ptr<spdlog::logger> kafka_log() {
  auto l = spdlog::get("kafka");
  return l ? l : spdlog::default_logger();
}

void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto lvl = level <= 3   ? spdlog::level::err
             : level <= 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info
                          : spdlog::level::debug;
  kafka_log()->log(lvl, "{} {}: {}", rk ? rd_kafka_name(rk) : "", fac, buf);
}

}  // namespace

void route_logs(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, log_cb); }

std::string client_version() { return rd_kafka_version_str(); }

rd_kafka_conf_t* make_conf(std::initializer_list<const properties*> layers, std::string& err) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char buf[512];
  for (const properties* layer : layers) {
    if (!layer) continue;
    for (const auto& [k, v] : *layer) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), buf, sizeof buf) != RD_KAFKA_CONF_OK) {
        err = "kafka property " + k + "=" + v + ": " + buf;
        rd_kafka_conf_destroy(conf);
        return nullptr;
      }
    }
  }
  route_logs(conf);
  return conf;
}

handle_ptr make_handle(rd_kafka_type_t type, const properties& props, std::string& err) {
  rd_kafka_conf_t* conf = make_conf({&props}, err);
  if (!conf) return nullptr;
  char buf[512];
  handle_ptr rk(rd_kafka_new(type, conf, buf, sizeof buf));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = buf;
  }
  return rk;
}

// ---------------------------------------------------------------- broker_link

void broker_link::on_error(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason) {
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    if (!down_.exchange(true))
      kafka_log()->error("{}: no broker reachable ({}); reported as disconnected until one answers", rd_kafka_name(rk),
                         reason);
    return;
  }
  // What librdkafka would have logged itself without an error callback.
  kafka_log()->error("{}: {}: {}", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

bool broker_link::probe(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, nullptr, &md, timeout_ms);
  if (md) rd_kafka_metadata_destroy(md);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  if (down_.exchange(false)) kafka_log()->info("{}: a broker answers again", rd_kafka_name(rk));
  return true;
}

// ---------------------------------------------------------------- producer

std::unique_ptr<producer> producer::create(const properties& props, std::string& err) {
  static const properties defaults{
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      // Every pipeline message is keyed; this also keeps an unkeyed burst from
      // piling onto one partition of the embedded broker.
      {"sticky.partitioning.linger.ms", "0"},
      {"message.timeout.ms", "30000"},
      {"queue.buffering.max.messages", "500000"},
  };
  rd_kafka_conf_t* conf = make_conf({&defaults, &props}, err);
  if (!conf) return nullptr;
  std::unique_ptr<producer> p(new producer());
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &producer::on_delivery);
  rd_kafka_conf_set_error_cb(conf, &producer::on_error);
  char buf[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, buf, sizeof buf);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = std::string("cannot create producer: ") + buf;
    return nullptr;
  }
  p->rk_.reset(rk);
  return p;
}

producer::~producer() {
  if (!rk_) return;
  std::string err;
  if (rd_kafka_flush(rk_.get(), 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    kafka_log()->error("producer closing with {} undelivered messages", rd_kafka_outq_len(rk_.get()));
}

void producer::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  static_cast<producer*>(opaque)->link_.on_error(rk, static_cast<rd_kafka_resp_err_t>(err), reason);
}

void producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<producer*>(opaque);
  if (self->report_) self->report_(reinterpret_cast<std::uintptr_t>(m->_private), m->err);
  if (m->err) {
    self->failed_.fetch_add(1);
    self->failed_total_.fetch_add(1);
    std::lock_guard lock(self->err_mu_);
    if (self->first_error_.empty())
      self->first_error_ = std::string(rd_kafka_topic_name(m->rkt)) + ": " + rd_kafka_err2str(m->err);
  } else {
    self->acked_.fetch_add(1);
  }
}

bool producer::produce(const std::string& topic, std::int32_t partition, std::string_view key, std::string_view value,
                       std::string* err, std::uint64_t tag, bool* transient) {
  rd_kafka_topic_t* rkt = topic_handle(topic);
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag))), RD_KAFKA_V_END);
    // Delivery reports are served on back-pressure and in flush(), not
    // per message: a poll per produce cost more than the produce itself.
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_.get(), 50);  // back-pressure: serve delivery reports, then retry
      continue;
    }
    if (err) *err = topic + ": " + rd_kafka_err2str(e);
    if (transient) {
      // The message's own fault: its size, a bad argument, or a partition
      // the topic (as known) does not have. Anything else is the topic's
      // or the broker's state: a topic error such as authorization leaves
      // librdkafka with no partitions for the topic until its metadata is
      // refreshed.
      const std::int32_t known = partition_count(topic);
      *transient = !(e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR__INVALID_ARG ||
                     e == RD_KAFKA_RESP_ERR__BAD_MSG ||
                     (e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && known > 0 && partition >= known));
    }
    return false;
  }
}

rd_kafka_topic_t* producer::topic_handle(const std::string& topic) {
  // One handle per name, kept: RD_KAFKA_V_TOPIC would look the name up
  // (under a lock) for every message.
  auto it = topics_.find(topic);
  if (it == topics_.end())
    it = topics_.emplace(topic, topic_ptr(rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr))).first;
  return it->second.get();
}

bool producer::prepare(const std::vector<std::string>& topics, int timeout_ms, std::string& err) {
  for (const auto& t : topics) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk_.get(), 0, topic_handle(t), &md, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err) e = md->topics[0].err;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
      std::lock_guard lock(counts_mu_);
      partition_counts_[t] = md->topics[0].partition_cnt;
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (e) {
      err = t + ": " + rd_kafka_err2str(e);
      return false;
    }
  }
  return true;
}

std::int32_t producer::partition_count(const std::string& topic) const {
  std::lock_guard lock(counts_mu_);
  auto it = partition_counts_.find(topic);
  return it == partition_counts_.end() ? -1 : it->second;
}

bool producer::flush(std::string& err) {
  // message.timeout.ms bounds how long a message can stay undelivered, so
  // this loop ends: each message is either acknowledged or reported failed.
  while (rd_kafka_outq_len(rk_.get()) > 0) rd_kafka_flush(rk_.get(), 1000);
  char errstr[512];
  if (rd_kafka_fatal_error(rk_.get(), errstr, sizeof errstr)) {
    err = std::string("producer fatal error: ") + errstr;
    return false;
  }
  if (failed_.exchange(0) == 0) return true;
  std::lock_guard lock(err_mu_);
  err = first_error_.empty() ? "delivery failed" : first_error_;
  first_error_.clear();
  return false;
}

// ---------------------------------------------------------------- consumer

std::unique_ptr<consumer> consumer::create(const properties& props, const std::string& group,
                                           rebalance_listener* listener, std::string& err) {
  static const properties defaults{
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // At the default 45 s a dead member holds its partitions for 45 s.
      {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "1000"},
      {"max.poll.interval.ms", "300000"},
      {"partition.assignment.strategy", "range,roundrobin"},
  };
  const properties forced{{"group.id", group}, {"auto.offset.reset", "error"}};
  rd_kafka_conf_t* conf = make_conf({&defaults, &props, &forced}, err);
  if (!conf) return nullptr;
  std::unique_ptr<consumer> c(new consumer());
  c->listener_ = listener;
  rd_kafka_conf_set_opaque(conf, c.get());
  rd_kafka_conf_set_rebalance_cb(conf, &consumer::on_rebalance);
  char buf[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, buf, sizeof buf);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = std::string("cannot create consumer: ") + buf;
    return nullptr;
  }
  c->rk_.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  return c;
}

consumer::~consumer() {
  close();
  if (queue_) rd_kafka_queue_destroy(queue_);
}

void consumer::close() {
  if (closed_ || !rk_) return;
  closed_ = true;
  rd_kafka_consumer_close(rk_.get());
}

std::size_t consumer::poll_batch(int timeout_ms, std::size_t max, std::vector<message_ptr>& out) {
  if (!queue_) queue_ = rd_kafka_queue_get_consumer(rk_.get());
  if (max == 0) return 0;
  // consume_batch_queue() waits until it has `max` messages or the timeout
  // passes; block for the first message only, then take what is queued.
  rd_kafka_message_t* first = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
  if (!first) return 0;
  // A consumer gets librdkafka's error events as messages, not callbacks.
  const auto track = [this](rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
      link_.on_error(rk_.get(), m->err, std::string(static_cast<const char*>(m->payload), m->len).c_str());
  };
  track(first);
  out.emplace_back(first);
  if (max == 1) return 1;
  if (scratch_.size() < max - 1) scratch_.resize(max - 1);
  ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, scratch_.data(), max - 1);
  for (ssize_t i = 0; i < n; ++i) {
    track(scratch_[static_cast<std::size_t>(i)]);
    out.emplace_back(scratch_[static_cast<std::size_t>(i)]);
  }
  return 1 + static_cast<std::size_t>(n > 0 ? n : 0);
}

void consumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                            void* opaque) {
  auto* self = static_cast<consumer*>(opaque);
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // A partition the group never committed starts at offset 0, not at the
    // log start: a pipeline group reads a topic from its first message, so
    // when the broker has already dropped that (retention, the embedded
    // broker's 5 MiB), the fetch fails with auto.offset.reset=error and the
    // loss is reported like any other, never skipped silently.
    list_ptr copy(rd_kafka_topic_partition_list_copy(parts));
    const auto e = rd_kafka_committed(rk, copy.get(), 10000);
    auto v = from_list(copy.get());
    if (e) {
      // Unknown: librdkafka fetches them itself (OFFSET_STORED).
      kafka_log()->warn("cannot fetch committed offsets: {}; librdkafka fetches them", rd_kafka_err2str(e));
      for (auto& p : v) p.offset = RD_KAFKA_OFFSET_STORED;
    } else {
      for (auto& p : v)
        if (p.offset < 0) p.offset = 0;
    }
    if (self->listener_) self->listener_->on_assign(v);
    self->remember_starts(v);
    list_ptr assign = to_list(v);
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_assign(rk, assign.get())) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, assign.get());
    }
    // Paused before the first fetch: nothing of a held partition is handed out.
    if (self->held_) rd_kafka_pause_partitions(rk, assign.get());
  } else {
    const bool lost = rd_kafka_assignment_lost(rk);
    if (self->listener_) self->listener_->on_revoke(from_list(parts), lost);
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

bool consumer::subscribe(const std::vector<std::string>& topics, std::string& err) {
  list_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(l.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto e = rd_kafka_subscribe(rk_.get(), l.get())) {
    err = std::string("subscribe: ") + rd_kafka_err2str(e);
    return false;
  }
  return true;
}

bool consumer::commit(const std::vector<topic_partition>& offsets, std::string& err) {
  if (offsets.empty()) return true;
  list_ptr l = to_list(offsets);
  if (auto e = rd_kafka_commit(rk_.get(), l.get(), 0)) {
    err = std::string("commit: ") + rd_kafka_err2str(e);
    return false;
  }
  for (int i = 0; i < l->cnt; ++i)
    if (l->elems[i].err) {
      err = std::string("commit ") + l->elems[i].topic + "/" + std::to_string(l->elems[i].partition) + ": " +
            rd_kafka_err2str(l->elems[i].err);
      return false;
    }
  return true;
}

void consumer::remember_starts(const std::vector<topic_partition>& v) {
  for (const auto& p : v) starts_[{p.topic, p.partition}] = p.offset;
}

bool consumer::seek(const std::vector<topic_partition>& to, std::string& err) {
  remember_starts(to);
  list_ptr l = to_list(to);
  if (auto* e = rd_kafka_seek_partitions(rk_.get(), l.get(), 10000)) {
    err = std::string("seek: ") + rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    return false;
  }
  for (int i = 0; i < l->cnt; ++i)
    if (l->elems[i].err) {
      err = std::string("seek: ") + rd_kafka_err2str(l->elems[i].err);
      return false;
    }
  return true;
}

bool consumer::restart_at(const topic_partition& tp, const std::vector<topic_partition>& starts, std::string& err) {
  remember_starts({tp});
  rd_kafka_t* rk = rk_.get();
  if (std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE") {
    list_ptr one = to_list({tp});
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, one.get());
    if (!e) e = rd_kafka_incremental_assign(rk, one.get());
    if (e) {
      err = std::string("restart ") + tp.topic + "/" + std::to_string(tp.partition) + ": " + rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return false;
    }
    if (held_) rd_kafka_pause_partitions(rk, one.get());
    return true;
  }
  // Eager protocol: assign the whole set again, every other partition at its
  // current position (the next message poll() would return).
  rd_kafka_topic_partition_list_t* cur = nullptr;
  if (auto e = rd_kafka_assignment(rk, &cur)) {
    err = std::string("assignment: ") + rd_kafka_err2str(e);
    return false;
  }
  list_ptr owned(cur);
  rd_kafka_position(rk, cur);
  for (int i = 0; i < cur->cnt; ++i) {
    auto& e = cur->elems[i];
    if (tp.topic == e.topic && tp.partition == e.partition) {
      e.offset = tp.offset;
    } else if (e.offset < 0) {
      // Nothing fetched there yet: keep the start it was assigned with
      // (an invalid offset would mean "committed", i.e. the reset policy).
      e.offset = RD_KAFKA_OFFSET_BEGINNING;
      for (const auto& s : starts)
        if (s.topic == e.topic && s.partition == e.partition) e.offset = s.offset;
    }
  }
  if (auto e = rd_kafka_assign(rk, cur)) {
    err = std::string("restart ") + tp.topic + "/" + std::to_string(tp.partition) + ": " + rd_kafka_err2str(e);
    return false;
  }
  if (held_) rd_kafka_pause_partitions(rk, cur);
  return true;
}

void consumer::pause(const std::vector<topic_partition>& parts) {
  list_ptr l = to_list(parts);
  rd_kafka_pause_partitions(rk_.get(), l.get());
}

void consumer::resume(const std::vector<topic_partition>& parts) {
  if (held_) return;
  list_ptr l = to_list(parts);
  rd_kafka_resume_partitions(rk_.get(), l.get());
}

void consumer::hold(bool on) {
  if (on == held_) return;
  held_ = on;
  list_ptr l = to_list(assignment());
  if (on)
    rd_kafka_pause_partitions(rk_.get(), l.get());
  else
    rd_kafka_resume_partitions(rk_.get(), l.get());
}

std::vector<topic_partition> consumer::assignment() const {
  rd_kafka_topic_partition_list_t* l = nullptr;
  if (rd_kafka_assignment(rk_.get(), &l)) return {};
  list_ptr owned(l);
  return from_list(l);
}

std::int64_t consumer::lag() const {
  rd_kafka_topic_partition_list_t* l = nullptr;
  if (rd_kafka_assignment(rk_.get(), &l)) return 0;
  list_ptr owned(l);
  rd_kafka_position(rk_.get(), l);
  std::int64_t lag = 0;
  for (int i = 0; i < l->cnt; ++i) {
    std::int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_.get(), l->elems[i].topic, l->elems[i].partition, &low, &high)) continue;
    if (high < 0) continue;
    std::int64_t pos = l->elems[i].offset;
    if (pos < 0) {  // nothing fetched since the assignment: from where it starts
      const auto s = starts_.find({l->elems[i].topic, l->elems[i].partition});
      pos = s == starts_.end() || s->second == RD_KAFKA_OFFSET_BEGINNING ? low
            : s->second == RD_KAFKA_OFFSET_END                           ? high
                                                                         : std::max<std::int64_t>(s->second, low);
    }
    if (pos >= 0 && high > pos) lag += high - pos;
  }
  return lag;
}

}  // namespace ctk::kafka
