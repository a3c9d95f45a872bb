#include "brokers/memory_transport.h"

#include <algorithm>

namespace ctk::kafka {

void memory_transport::create_topic(const std::string& topic, int partitions) {
  topics_[topic].resize(static_cast<std::size_t>(partitions));
}

memory_transport::partition_log* memory_transport::find(const std::string& topic, std::int32_t partition) {
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition < 0 || static_cast<std::size_t>(partition) >= it->second.size()) return nullptr;
  return &it->second[static_cast<std::size_t>(partition)];
}

const memory_transport::partition_log* memory_transport::find(const std::string& topic, std::int32_t partition) const {
  return const_cast<memory_transport*>(this)->find(topic, partition);
}

std::int64_t memory_transport::append(const std::string& topic, std::int32_t partition, std::string key,
                                      std::string value) {
  partition_log* log = find(topic, partition);
  if (!log) return -1;
  log->records.push_back({std::move(key), std::move(value)});
  return log->low + static_cast<std::int64_t>(log->records.size()) - 1;
}

std::vector<memory_transport::record> memory_transport::read(const std::string& topic, std::int32_t partition) const {
  const partition_log* log = find(topic, partition);
  return log ? std::vector<record>(log->records.begin(), log->records.end()) : std::vector<record>{};
}

std::int64_t memory_transport::low(const std::string& topic, std::int32_t partition) const {
  const partition_log* log = find(topic, partition);
  return log ? log->low : -1;
}

std::int64_t memory_transport::high(const std::string& topic, std::int32_t partition) const {
  const partition_log* log = find(topic, partition);
  return log ? log->low + static_cast<std::int64_t>(log->records.size()) : -1;
}

void memory_transport::drop_head(const std::string& topic, std::int32_t partition, std::int64_t new_low) {
  partition_log* log = find(topic, partition);
  if (!log) return;
  while (log->low < new_low && !log->records.empty()) {
    log->records.pop_front();
    ++log->low;
  }
}

void memory_transport::set_committed(const std::string& topic, std::int32_t partition, std::int64_t next) {
  committed_[{topic, partition}] = next;
}

std::int64_t memory_transport::committed(const std::string& topic, std::int32_t partition) const {
  auto it = committed_.find({topic, partition});
  return it == committed_.end() ? offset_invalid : it->second;
}

void memory_transport::rebalance(std::vector<tp> keep) {
  rebalance_ = true;
  keep_ = std::move(keep);
}

// ---------------------------------------------------------------- output

bool memory_transport::prepare(const std::vector<std::string>& topics, int, std::string& err) {
  for (const auto& t : topics)
    if (!topics_.count(t)) {
      err = "unknown topic " + t;
      return false;
    }
  return true;
}

std::int32_t memory_transport::partition_count(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? -1 : static_cast<std::int32_t>(it->second.size());
}

bool memory_transport::produce(const std::string& topic, std::int32_t partition, std::string_view key,
                               std::string_view value, std::string& err, std::uint64_t tag, bool& transient) {
  const std::int32_t n = partition_count(topic);
  transient = n <= 0 || !refuse_produce.empty();
  if (!refuse_produce.empty()) {
    err = refuse_produce + " (" + topic + ")";
    return false;
  }
  if (n <= 0) {
    err = "Broker: Unknown topic or partition (" + topic + ")";
    return false;
  }
  if (partition < 0)
    partition = static_cast<std::int32_t>(std::hash<std::string_view>{}(key) % static_cast<std::size_t>(n));
  if (partition >= n) {
    err = "Local: Unknown partition (" + topic + "/" + std::to_string(partition) + ")";
    return false;
  }
  outgoing_.push_back({topic, partition, std::string(key), std::string(value), tag});
  return true;
}

bool memory_transport::deliver(bool timeout_held, std::string& first_error) {
  bool ok = true;
  std::deque<outgoing> waiting;
  std::set<tp> blocked;  // a held message holds what follows it in its partition (Kafka keeps their order)
  while (!outgoing_.empty()) {
    outgoing o = std::move(outgoing_.front());
    outgoing_.pop_front();
    std::string error;
    const tp where{o.topic, o.partition};
    if (blocked.count(where) || (hold_delivery && hold_delivery(o))) {
      blocked.insert(where);
      if (!timeout_held) {
        waiting.push_back(std::move(o));
        continue;
      }
      error = "Local: Message timed out";
    } else if (fail_delivery) {
      error = fail_delivery(o);
    }
    if (error.empty()) {
      append(o.topic, o.partition, std::move(o.key), std::move(o.value));
      acked_.fetch_add(1);
    } else {
      ok = false;
      if (first_error.empty()) first_error = o.topic + ": " + error;
    }
    if (report_) report_(o.tag, error);
  }
  outgoing_ = std::move(waiting);
  return ok;
}

void memory_transport::serve_deliveries(int) {
  std::string err;
  if (!deliver(false, err) && failed_.empty()) failed_ = err;
}

bool memory_transport::flush(std::string& err) {
  std::string now;
  deliver(true, now);
  if (failed_.empty()) failed_ = now;
  if (failed_.empty()) return true;
  err = std::move(failed_);
  failed_.clear();
  return false;
}

// ---------------------------------------------------------------- input

bool memory_transport::subscribe(const std::string&, const std::vector<std::string>& topics,
                                 rebalance_listener* listener, std::string& err) {
  for (const auto& t : topics)
    if (!topics_.count(t)) {
      err = "subscribe: unknown topic " + t;
      return false;
    }
  listener_ = listener;
  subscription_ = topics;
  return true;
}

std::int64_t memory_transport::resolve(const partition_log& log, std::int64_t offset) const {
  if (offset == offset_end) return log.low + static_cast<std::int64_t>(log.records.size());
  if (offset < 0) return log.low;  // beginning, or no committed offset
  return offset;
}

void memory_transport::assign(std::vector<tp> parts) {
  if (parts.empty())
    for (const auto& t : subscription_)
      for (std::int32_t p = 0; p < partition_count(t); ++p) parts.emplace_back(t, p);
  std::vector<topic_partition> v;
  for (const auto& [t, p] : parts) {
    auto c = committed_.find({t, p});
    v.push_back({t, p, c == committed_.end() ? offset_beginning : c->second});
  }
  if (listener_) listener_->on_assign(v);
  for (const auto& e : v) assigned_[{e.topic, e.partition}] = {resolve(*find(e.topic, e.partition), e.offset), false};
}

void memory_transport::revoke_all(bool lost) {
  if (assigned_.empty()) return;
  std::vector<topic_partition> v;
  for (const auto& [k, pos] : assigned_) v.push_back({k.first, k.second, pos.next});
  if (listener_) listener_->on_revoke(v, lost);
  assigned_.clear();
  paused_.clear();
}

std::size_t memory_transport::poll_batch(int, std::size_t max, std::vector<polled>& out) {
  if (!subscription_.empty() && !joined_) {
    joined_ = true;
    assign({});
  } else if (rebalance_) {
    rebalance_ = false;
    revoke_all(false);
    assign(std::move(keep_));
    keep_.clear();
  }
  const std::size_t before = out.size();
  for (auto& [k, pos] : assigned_) {
    if (held_ || paused_.count(k) || pos.failed) continue;
    const partition_log& log = *find(k.first, k.second);
    if (pos.next < log.low) {
      polled e;
      e.what = polled::kind::out_of_range;
      e.topic = k.first;
      e.partition = k.second;
      e.offset = pos.next;
      e.error = "Broker: Offset out of range";
      out.push_back(std::move(e));
      pos.failed = true;
      continue;
    }
    for (; out.size() - before < max && pos.next < log.low + static_cast<std::int64_t>(log.records.size());
         ++pos.next) {
      const record& r = log.records[static_cast<std::size_t>(pos.next - log.low)];
      polled m;
      m.topic = k.first;
      m.partition = k.second;
      m.offset = pos.next;
      m.key = r.key;
      m.value = r.value;
      out.push_back(std::move(m));
    }
  }
  if (after_poll) after_poll(out);
  return out.size() - before;
}

bool memory_transport::commit(const std::vector<topic_partition>& offsets, std::string& err) {
  if (offsets.empty()) return true;
  if (refuse_commit) {
    if (std::string why = refuse_commit(offsets); !why.empty()) {
      err = "commit: " + why;
      return false;
    }
  }
  for (const auto& o : offsets) {
    if (!assigned_.count({o.topic, o.partition})) {
      err = "commit " + o.topic + "/" + std::to_string(o.partition) + ": not assigned to this member";
      return false;
    }
  }
  for (const auto& o : offsets) committed_[{o.topic, o.partition}] = o.offset;
  commit_log_.push_back(offsets);
  return true;
}

bool memory_transport::seek(const std::vector<topic_partition>& to, std::string& err) {
  for (const auto& t : to) {
    auto it = assigned_.find({t.topic, t.partition});
    if (it == assigned_.end()) {
      err = "seek: " + t.topic + "/" + std::to_string(t.partition) + " is not assigned";
      return false;
    }
    it->second = {resolve(*find(t.topic, t.partition), t.offset), false};
  }
  return true;
}

bool memory_transport::restart_at(const topic_partition& at, const std::vector<topic_partition>&, std::string& err) {
  return seek({at}, err);
}

void memory_transport::pause(const std::vector<topic_partition>& parts) {
  for (const auto& p : parts) paused_.insert({p.topic, p.partition});
}

void memory_transport::resume(const std::vector<topic_partition>& parts) {
  for (const auto& p : parts) paused_.erase({p.topic, p.partition});
}

std::vector<topic_partition> memory_transport::assignment() const {
  std::vector<topic_partition> v;
  for (const auto& [k, pos] : assigned_) v.push_back({k.first, k.second, pos.next});
  return v;
}

std::int64_t memory_transport::lag() const {
  std::int64_t lag = 0;
  for (const auto& [k, pos] : assigned_) lag += std::max<std::int64_t>(0, high(k.first, k.second) - pos.next);
  return lag;
}

bool memory_transport::watermarks(const std::string& topic, std::int32_t partition, std::int64_t& lo, std::int64_t& hi,
                                  std::string& err) {
  if (!find(topic, partition)) {
    err = "watermarks: unknown partition " + topic + "/" + std::to_string(partition);
    return false;
  }
  lo = low(topic, partition);
  hi = high(topic, partition);
  return true;
}

void memory_transport::close() {
  revoke_all(false);
  subscription_.clear();
}

}  // namespace ctk::kafka
