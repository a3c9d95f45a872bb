// librdkafka's topic-partition lists to and from topic_partition vectors
// (brokers/ only).
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "brokers/transport.h"

namespace ctk::kafka {

struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

inline list_ptr to_list(const std::vector<topic_partition>& parts) {
  list_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (const auto& p : parts)
    rd_kafka_topic_partition_list_add(l.get(), p.topic.c_str(), p.partition)->offset = p.offset;
  return l;
}

inline std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* l) {
  std::vector<topic_partition> v;
  if (!l) return v;
  v.reserve(static_cast<std::size_t>(l->cnt));
  for (int i = 0; i < l->cnt; ++i) v.push_back({l->elems[i].topic, l->elems[i].partition, l->elems[i].offset});
  return v;
}

// A partition's low and high watermarks (log start, log end) from its
// leader, within timeout_ms. rd_kafka_query_watermark_offsets does the same
// but, before librdkafka 2.3 (Debian 12 ships 2.0.2), waits without end
// while the leader is down; ListOffsets through rd_kafka_offsets_for_times
// keeps its timeout. Two round trips instead of one.
rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const std::string& topic, std::int32_t partition,
                                     std::int64_t& low, std::int64_t& high, int timeout_ms);

}  // namespace ctk::kafka
