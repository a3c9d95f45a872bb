#include "brokers/kafka.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <thread>

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

struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

list_ptr to_list(const std::vector<topic_partition>& parts) {
  list_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (const auto& p : parts)
    rd_kafka_topic_partition_list_add(l.get(), p.topic.c_str(), p.partition)->offset = p.offset;
  return l;
}

std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* l) {
  std::vector<topic_partition> v;
  if (!l) return v;
  v.reserve(l->cnt);
  for (int i = 0; i < l->cnt; ++i) v.push_back({l->elems[i].topic, l->elems[i].partition, l->elems[i].offset});
  return v;
}

}  // namespace

void route_logs(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, log_cb); }

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
      // piling onto one partition of the embedded broker (DESIGN.md §4).
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
                       std::string* err, std::uint64_t tag) {
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
      // The embedded broker rebalances slowly at the default 45 s (DESIGN.md §4).
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
    // auto.offset.reset=error would make a partition without a committed
    // offset an error; such partitions start at the beginning instead.
    list_ptr copy(rd_kafka_topic_partition_list_copy(parts));
    if (auto e = rd_kafka_committed(rk, copy.get(), 10000))
      kafka_log()->warn("cannot fetch committed offsets: {}", rd_kafka_err2str(e));
    auto v = from_list(copy.get());
    for (auto& p : v)
      if (p.offset < 0) p.offset = RD_KAFKA_OFFSET_BEGINNING;
    if (self->listener_) self->listener_->on_assign(v);
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

bool consumer::seek(const std::vector<topic_partition>& to, std::string& err) {
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
    std::int64_t pos = l->elems[i].offset >= 0 ? l->elems[i].offset : low;
    if (pos >= 0 && high > pos) lag += high - pos;
  }
  return lag;
}

// ---------------------------------------------------------------- admin

bool list_topics(rd_kafka_t* rk, const std::string& only, std::vector<topic_info>& out, std::string& err,
                 int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  if (auto e = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms)) {
    err = std::string("metadata: ") + rd_kafka_err2str(e);
    return false;
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(md, rd_kafka_metadata_destroy);
  out.clear();
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (!only.empty() && only != t.topic) continue;
    if (t.err) continue;
    topic_info ti{t.topic, {}};
    for (int j = 0; j < t.partition_cnt; ++j) {
      partition_info pi{t.partitions[j].id};
      rd_kafka_query_watermark_offsets(rk, t.topic, pi.partition, &pi.low, &pi.high, timeout_ms);
      ti.partitions.push_back(pi);
    }
    std::sort(ti.partitions.begin(), ti.partitions.end(),
              [](const auto& a, const auto& b) { return a.partition < b.partition; });
    out.push_back(std::move(ti));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return true;
}

bool committed_offsets(const properties& props, const std::string& group, std::vector<topic_partition>& parts,
                       std::string& err, int timeout_ms) {
  properties p = props;
  p["group.id"] = group;
  p["enable.auto.commit"] = "false";
  handle_ptr rk = make_handle(RD_KAFKA_CONSUMER, p, err);
  if (!rk) return false;
  list_ptr l = to_list(parts);
  if (auto e = rd_kafka_committed(rk.get(), l.get(), timeout_ms)) {
    err = std::string("committed offsets of ") + group + ": " + rd_kafka_err2str(e);
    return false;
  }
  parts = from_list(l.get());
  return true;
}

std::int64_t partition_reader::read(const std::string& topic, std::int32_t partition, std::int64_t from,
                                    const std::function<void(const rd_kafka_message_t&)>& fn, std::string& err) {
  if (!rk_) {
    properties p = props_;
    p["group.id"] = "cointicker-reader";  // assign() only: never joins or commits
    p["enable.auto.commit"] = "false";
    p["enable.partition.eof"] = "true";
    p["auto.offset.reset"] = "earliest";  // older than the log start: begin at the start
    // A read stops at the end it saw: the broker must not hold a fetch
    // open waiting for new data (the default 500 ms, per read).
    p["fetch.wait.max.ms"] = "10";
    rk_ = make_handle(RD_KAFKA_CONSUMER, p, err);
    if (!rk_) return -1;
  }
  std::int64_t low = 0, high = 0;
  if (auto e = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high, 10000)) {
    err = topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(e);
    return -1;
  }
  if (from >= 0 && from >= high) return high;
  if (high <= low) return high;
  list_ptr l = to_list({{topic, partition, from}});
  if (auto e = rd_kafka_assign(rk_.get(), l.get())) {
    err = std::string("assign: ") + rd_kafka_err2str(e);
    return -1;
  }
  std::int64_t end = from >= 0 ? from : low;
  bool failed = false;
  for (;;) {
    message_ptr m(rd_kafka_consumer_poll(rk_.get(), 1000));
    if (!m) continue;
    // Anything left from an earlier read of another partition is skipped.
    if (m->rkt && (m->partition != partition || topic_of(*m) != topic)) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
    if (m->err) {
      err = topic + "/" + std::to_string(partition) + ": " + rd_kafka_message_errstr(m.get());
      failed = true;
      break;
    }
    fn(*m);
    end = m->offset + 1;
    if (end >= high) break;
  }
  rd_kafka_assign(rk_.get(), nullptr);
  return failed ? -1 : std::max(end, high);
}

std::int64_t read_partition(const properties& props, const std::string& topic, std::int32_t partition,
                            std::int64_t from, const std::function<void(const rd_kafka_message_t&)>& fn,
                            std::string& err) {
  partition_reader r(props);
  return r.read(topic, partition, from, fn, err);
}

std::unique_ptr<watermarks> watermarks::create(const properties& props, std::string& err) {
  std::unique_ptr<watermarks> w(new watermarks());
  w->rk_ = make_handle(RD_KAFKA_PRODUCER, props, err);
  if (!w->rk_) return nullptr;
  return w;
}

bool watermarks::query(const std::string& topic, std::int32_t partition, std::int64_t& low, std::int64_t& high,
                       std::string& err, int timeout_ms) {
  if (auto e = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high, timeout_ms)) {
    err = "watermarks of " + topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(e);
    return false;
  }
  return true;
}

std::unique_ptr<follower> follower::create(const properties& props, const std::vector<topic_partition>& offsets,
                                           std::string& err) {
  properties p = props;
  if (!p.count("group.id")) p["group.id"] = "cointicker-follower-" + std::to_string(::getpid());  // assign() only
  std::unique_ptr<follower> f(new follower());
  f->rk_ = make_handle(RD_KAFKA_CONSUMER, p, err);
  if (!f->rk_) return nullptr;
  list_ptr l = to_list(offsets);
  if (auto e = rd_kafka_assign(f->rk_.get(), l.get())) {
    err = std::string("assign: ") + rd_kafka_err2str(e);
    return nullptr;
  }
  return f;
}

follower::~follower() {
  if (rk_) rd_kafka_consumer_close(rk_.get());
}

bool create_topics(rd_kafka_t* rk, const std::vector<std::pair<std::string, int>>& topics, int replication,
                   std::string& err) {
  std::vector<rd_kafka_NewTopic_t*> nts;
  char buf[512];
  for (const auto& [name, parts] : topics) {
    auto* nt = rd_kafka_NewTopic_new(name.c_str(), parts, replication, buf, sizeof buf);
    if (!nt) {
      err = name + ": " + buf;
      for (auto* t : nts) rd_kafka_NewTopic_destroy(t);
      return false;
    }
    // dedup.state and analyzer.state are changelogs: only the latest
    // checkpoint per key matters. The analyzer restores the newest snapshot
    // not ahead of its committed offset, so recent versions must survive
    // compaction for a while (actors/analyzer/README.md).
    const auto ends_with = [&](std::string_view tail) {
      return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (ends_with("dedup.state") || ends_with("analyzer.state"))
      rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    if (ends_with("analyzer.state")) rd_kafka_NewTopic_set_config(nt, "min.compaction.lag.ms", "3600000");
    nts.push_back(nt);
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, 5000, buf, sizeof buf);
  rd_kafka_AdminOptions_set_operation_timeout(opts, 5000, buf, sizeof buf);
  rd_kafka_CreateTopics(rk, nts.data(), nts.size(), opts, q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  bool ok = true;
  if (!ev) {
    err = "CreateTopics: no answer within 15 s";
    ok = false;
  } else if (rd_kafka_event_error(ev)) {
    err = std::string("CreateTopics: ") + rd_kafka_event_error_string(ev);
    ok = false;
  } else {
    std::size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (std::size_t i = 0; i < n; ++i) {
      auto e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        err += std::string(rd_kafka_topic_result_name(res[i])) + ": " + rd_kafka_err2str(e) + "; ";
        ok = false;
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  for (auto* t : nts) rd_kafka_NewTopic_destroy(t);
  return ok;
}

}  // namespace ctk::kafka
