// Metadata, admin calls and readers outside a group (kafka.h).
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "brokers/kafka.h"
#include "brokers/kafka_lists.h"

namespace ctk::kafka {

// ---------------------------------------------------------------- admin

namespace {
using metadata_ptr = std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)>;

// Every topic's metadata; nullptr and `err` when no broker answers in time.
metadata_ptr all_topics(rd_kafka_t* rk, std::string& err, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  if (auto e = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms)) {
    err = std::string("metadata: ") + rd_kafka_err2str(e);
    return {nullptr, rd_kafka_metadata_destroy};
  }
  return {md, rd_kafka_metadata_destroy};
}
}  // namespace

rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const std::string& topic, std::int32_t partition,
                                     std::int64_t& low, std::int64_t& high, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (std::int64_t* out : {&low, &high}) {
    list_ptr l(rd_kafka_topic_partition_list_new(1));
    auto* p = rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), partition);
    p->offset = out == &low ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;  // ListOffsets' -2 and -1
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (auto e = rd_kafka_offsets_for_times(rk, l.get(), static_cast<int>(left.count()))) return e;
    if (p->err) return p->err;
    *out = p->offset;
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool list_topics(rd_kafka_t* rk, const std::string& only, std::vector<topic_info>& out, std::string& err,
                 int timeout_ms) {
  const auto md = all_topics(rk, err, timeout_ms);
  if (!md) return false;
  out.clear();
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (!only.empty() && only != t.topic) continue;
    if (t.err) continue;
    topic_info ti{t.topic, {}};
    for (int j = 0; j < t.partition_cnt; ++j) {
      partition_info pi{t.partitions[j].id};
      query_watermarks(rk, t.topic, pi.partition, pi.low, pi.high, timeout_ms);
      ti.partitions.push_back(pi);
    }
    std::sort(ti.partitions.begin(), ti.partitions.end(),
              [](const auto& a, const auto& b) { return a.partition < b.partition; });
    out.push_back(std::move(ti));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return true;
}

bool topic_names(const properties& props, std::vector<std::string>& out, std::string& err, int timeout_ms) {
  handle_ptr rk = make_handle(RD_KAFKA_PRODUCER, props, err);
  const auto md = rk ? all_topics(rk.get(), err, timeout_ms) : metadata_ptr(nullptr, rd_kafka_metadata_destroy);
  if (!md) return false;
  out.clear();
  for (int i = 0; i < md->topic_cnt; ++i)
    if (!md->topics[i].err) out.emplace_back(md->topics[i].topic);
  std::sort(out.begin(), out.end());
  return true;
}

bool offsets_for_time(const properties& props, const topic_info& t, std::int64_t since_ms,
                      std::vector<topic_partition>& out, std::string& err) {
  out.clear();
  auto parts = t.partitions;  // sorted as the answer will be
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.partition < b.partition; });
  for (const auto& p : parts) out.push_back({t.name, p.partition, since_ms});
  {
    handle_ptr rk = make_handle(RD_KAFKA_PRODUCER, props, err);
    if (!rk) return false;
    list_ptr l = to_list(out);
    if (auto e = rd_kafka_offsets_for_times(rk.get(), l.get(), 10000)) {
      err = "offsets for a time in " + t.name + ": " + rd_kafka_err2str(e);
      return false;
    }
    out = from_list(l.get());
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.partition < b.partition; });
  }
  partition_reader last(props);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& p = parts[i];
    if (out[i].offset >= 0 && out[i].offset < p.high) continue;
    out[i].offset = p.high;  // -1: no message that late
    if (p.high <= p.low) continue;
    std::int64_t newest = -1;
    if (last.read(
            t.name, p.partition, p.high - 1, [&](const rd_kafka_message_t& m) { newest = timestamp_of(m); }, err) < 0)
      return false;
    if (newest >= since_ms) out[i].offset = p.low;  // the broker did not look the time up
  }
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
  if (auto e = query_watermarks(rk_.get(), topic, partition, low, high, 10000)) {
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
  if (auto e = query_watermarks(rk_.get(), topic, partition, low, high, timeout_ms)) {
    err = "watermarks of " + topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(e);
    return false;
  }
  return true;
}

bool watermarks::log_ends(std::vector<topic_partition>& parts, std::string& err, int timeout_ms) {
  if (parts.empty()) return true;
  list_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (const auto& p : parts)
    rd_kafka_topic_partition_list_add(l.get(), p.topic.c_str(), p.partition)->offset = RD_KAFKA_OFFSET_END;
  if (auto e = rd_kafka_offsets_for_times(rk_.get(), l.get(), timeout_ms)) {
    err = "log ends of " + parts.front().topic + ": " + rd_kafka_err2str(e);
    return false;
  }
  for (auto& p : parts) {
    const auto* el = rd_kafka_topic_partition_list_find(l.get(), p.topic.c_str(), p.partition);
    p.offset = el && !el->err ? el->offset : -1;
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

bool list_topics(const properties& props, const std::string& only, std::vector<topic_info>& out, std::string& err,
                 int timeout_ms) {
  handle_ptr rk = make_handle(RD_KAFKA_PRODUCER, props, err);
  return rk && list_topics(rk.get(), only, out, err, timeout_ms);
}

bool topic_config(const properties& props, const std::string& topic, const std::string& key, std::string& value,
                  std::string& err) {
  handle_ptr owned = make_handle(RD_KAFKA_PRODUCER, props, err);
  if (!owned) return false;
  rd_kafka_t* rk = owned.get();
  char buf[512];
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(opts, 5000, buf, sizeof buf);
  rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000);
  bool found = false;
  if (!ev) {
    err = "DescribeConfigs: no answer within 10 s";
  } else if (rd_kafka_event_error(ev)) {
    err = std::string("DescribeConfigs: ") + rd_kafka_event_error_string(ev);
  } else {
    std::size_t n = 0;
    const rd_kafka_ConfigResource_t** rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (std::size_t i = 0; i < n && !found; ++i) {
      if (rd_kafka_ConfigResource_error(rs[i])) {
        err = std::string("DescribeConfigs: ") + rd_kafka_ConfigResource_error_string(rs[i]);
        continue;
      }
      std::size_t m = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &m);
      for (std::size_t j = 0; j < m; ++j)
        if (key == rd_kafka_ConfigEntry_name(entries[j])) {
          const char* v = rd_kafka_ConfigEntry_value(entries[j]);
          value = v ? v : "";
          found = true;
        }
    }
    if (!found && err.empty()) err = "DescribeConfigs: " + topic + " has no " + key;
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_queue_destroy(q);
  return found;
}

bool create_topics(const properties& props, const std::vector<std::pair<std::string, int>>& topics, int replication,
                   std::string& err) {
  handle_ptr owned = make_handle(RD_KAFKA_PRODUCER, props, err);
  if (!owned) return false;
  rd_kafka_t* rk = owned.get();
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
    const auto ends_with = [topic = std::string_view(name)](std::string_view tail) { return topic.ends_with(tail); };
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
