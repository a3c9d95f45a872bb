#include "actors/registry.h"

#include <algorithm>

#include "actors/analyzer/analyzer.h"
#include "actors/crawler/crawler.h"
#include "actors/db_sink/db_sink.h"
#include "actors/dedup/dedup.h"
#include "actors/hdfs_sink/hdfs_sink.h"
#include "actors/scheduler/scheduler.h"
#include "actors/validator/validator.h"

namespace ctk::actors {

const std::vector<actor_entry>& registry() {
  // Planned kinds keep an empty `make` until they are implemented, so that
  // `run` can tell "not built yet" from "no such actor".
  static const std::vector<actor_entry> entries{
      {"crawler",
       "fetches sources on crawl commands: control -> raw | deadletter, reports",
       [](const pipeline::actor_context& c) { return crawler::make_crawler(c); },
       {"control"},
       {"raw", "reports"},
       true},
      {"validator",
       "checks and normalises records: raw -> valid | deadletter",
       [](const pipeline::actor_context& c) { return validator::make_validator(c); },
       {"raw"},
       {"valid"},
       false},
      {"dedup",
       "drops records already seen: valid -> unique",
       [](const pipeline::actor_context& c) { return dedup::make_dedup(c); },
       {"valid"},
       {"unique", "dedup.state"},
       false},
      {"hdfs-sink",
       "writes unique records to HDFS files (WebHDFS or file://), exactly once",
       [](const pipeline::actor_context& c) { return hdfs::make_hdfs_sink(c); },
       {"unique"},
       {},
       false},
      {"db-sink",
       "writes unique records to PostgreSQL, exactly once",
       [](const pipeline::actor_context& c) { return db::make_db_sink(c); },
       {"unique", "insights"},
       {},
       false},
      {"analyzer",
       "derives candles, indicators, news sentiment and insights: unique -> insights",
       [](const pipeline::actor_context& c) { return analyzer::make_analyzer(c); },
       {"unique"},
       {"insights", "analyzer.state"},
       false},
      {"scheduler",
       "fires timed crawl commands (reports -> control); runs the control plane",
       [](const pipeline::actor_context& c) { return scheduler::make_scheduler(c); },
       {"reports"},
       {"control", "reports"},
       true},
  };
  return entries;
}

const actor_entry* find(const std::string& name) {
  for (const auto& e : registry())
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<std::string> upstream_first(const std::vector<std::string>& names) {
  std::vector<const actor_entry*> left;
  for (const auto& e : registry())
    if (std::find(names.begin(), names.end(), e.name) != names.end()) left.push_back(&e);
  const auto feeds_into = [](const actor_entry& up, const actor_entry& down) {
    if (&up == &down) return false;
    for (const auto& t : down.inputs)
      if (std::find(up.outputs.begin(), up.outputs.end(), t) != up.outputs.end()) return true;
    return false;
  };
  std::vector<std::string> out;
  while (!left.empty()) {
    // The first (in registry order) that no remaining actor feeds; the
    // first remaining when every one is fed (a cycle).
    auto next = std::find_if(left.begin(), left.end(), [&](const actor_entry* e) {
      return std::none_of(left.begin(), left.end(), [&](const actor_entry* up) { return feeds_into(*up, *e); });
    });
    if (next == left.end()) next = left.begin();
    out.push_back((*next)->name);
    left.erase(next);
  }
  return out;
}

}  // namespace ctk::actors
