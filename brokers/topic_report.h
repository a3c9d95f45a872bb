// Topics with their sizes and each consumer group's lag: what `cointicker
// topics` prints and the dashboard's cluster view shows.
#pragma once

#include <cstdint>
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

}  // namespace ctk::kafka
