// Topics with their sizes and each consumer group's lag: what `cointicker
// topics` prints and the dashboard's cluster view shows.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "brokers/kafka.h"

namespace ctk::kafka {

struct group_lag {
  std::string group;
  std::int64_t lag = 0;  // high watermark minus committed offset, summed over partitions with a commit
};

struct topic_report {
  topic_info topic;             // name, partitions with low/high watermarks
  std::int64_t messages = 0;    // high - low, summed
  std::int64_t end = 0;         // high watermarks, summed
  std::vector<group_lag> lags;  // groups with a committed offset on this topic only
};

// Every topic of the cluster (all, or just `only`); lag for `groups`.
bool report_topics(const properties& props, const std::vector<std::string>& groups, std::vector<topic_report>& out,
                   std::string& err, const std::string& only = "");

// What `group` has still to consume and commit on each of `topics`: per
// topic, the high watermark minus the committed offset, summed over its
// partitions; a partition without a commit counts from its low watermark
// (where the group starts). A topic that does not exist yet counts 0.
bool group_backlog(const properties& props, const std::string& group, const std::vector<std::string>& topics,
                   std::map<std::string, std::int64_t>& out, std::string& err);

}  // namespace ctk::kafka
