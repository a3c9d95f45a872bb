#include "brokers/topic_report.h"

#include <algorithm>

namespace ctk::kafka {

bool report_topics(const properties& props, const std::vector<std::string>& groups, std::vector<topic_report>& out,
                   std::string& err, const std::string& only) {
  handle_ptr rk = make_handle(RD_KAFKA_PRODUCER, props, err);
  if (!rk) return false;
  std::vector<topic_info> topics;
  if (!list_topics(rk.get(), only, topics, err)) return false;
  out.clear();
  for (auto& t : topics) {
    topic_report r;
    std::vector<topic_partition> parts;
    for (const auto& p : t.partitions) {
      if (p.high >= 0) r.end += p.high;
      if (p.high >= 0 && p.low >= 0) r.messages += p.high - p.low;
      parts.push_back({t.name, p.partition, RD_KAFKA_OFFSET_INVALID});
    }
    for (const auto& grp : groups) {
      auto q = parts;
      std::string gerr;
      if (!committed_offsets(props, grp, q, gerr)) continue;
      std::int64_t lag = 0;
      bool any = false;
      for (std::size_t i = 0; i < q.size(); ++i) {
        if (q[i].offset < 0) continue;
        any = true;
        lag += std::max<std::int64_t>(0, t.partitions[i].high - q[i].offset);
      }
      if (any) r.lags.push_back({grp, lag});
    }
    r.topic = std::move(t);
    out.push_back(std::move(r));
  }
  return true;
}

bool group_backlog(const properties& props, const std::string& group, const std::vector<std::string>& topics,
                   std::map<std::string, std::int64_t>& out, std::string& err) {
  handle_ptr rk = make_handle(RD_KAFKA_PRODUCER, props, err);
  if (!rk) return false;
  std::vector<topic_info> all;
  if (!list_topics(rk.get(), "", all, err)) return false;
  out.clear();
  for (const auto& name : topics) {
    out[name] = 0;
    const auto t = std::find_if(all.begin(), all.end(), [&](const topic_info& i) { return i.name == name; });
    if (t == all.end()) continue;
    std::vector<topic_partition> parts;
    for (const auto& p : t->partitions) parts.push_back({name, p.partition, RD_KAFKA_OFFSET_INVALID});
    if (!committed_offsets(props, group, parts, err)) return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& w = t->partitions[i];
      if (w.high < 0) continue;
      out[name] += std::max<std::int64_t>(0, w.high - std::max(parts[i].offset, std::max<std::int64_t>(w.low, 0)));
    }
  }
  return true;
}

}  // namespace ctk::kafka
