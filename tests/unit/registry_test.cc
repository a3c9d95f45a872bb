// The registry's topology: the order in which a lossless stop reads the
// consumer groups' offsets.
#include "actors/registry.h"

#include <gtest/gtest.h>

#include <algorithm>

using ctk::actors::upstream_first;

namespace {
bool produces_into(const std::string& up, const std::string& down) {
  const auto* u = ctk::actors::find(up);
  const auto* d = ctk::actors::find(down);
  for (const auto& t : d->inputs)
    if (std::find(u->outputs.begin(), u->outputs.end(), t) != u->outputs.end()) return true;
  return false;
}
}  // namespace

TEST(registry, upstream_first_puts_every_consumer_after_the_actors_that_produce_its_input) {
  // Given in reverse pipeline order, as a set of names sorted by name would be.
  const std::vector<std::string> order = upstream_first({"validator", "hdfs-sink", "dedup", "db-sink", "analyzer"});
  EXPECT_EQ(order, (std::vector<std::string>{"validator", "dedup", "hdfs-sink", "analyzer", "db-sink"}));
  for (std::size_t i = 0; i < order.size(); ++i)
    for (std::size_t j = i + 1; j < order.size(); ++j)
      EXPECT_FALSE(produces_into(order[j], order[i])) << order[j] << " feeds " << order[i] << " but comes after it";
}

TEST(registry, upstream_first_keeps_every_name_once_through_the_scheduler_crawler_cycle) {
  std::vector<std::string> all;
  for (const auto& e : ctk::actors::registry()) all.push_back(e.name);
  std::vector<std::string> order = upstream_first(all);
  EXPECT_EQ(order.size(), all.size());
  std::sort(order.begin(), order.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(order, all);
  EXPECT_EQ(upstream_first({"db-sink"}), std::vector<std::string>{"db-sink"});
  EXPECT_TRUE(upstream_first({}).empty());
}
