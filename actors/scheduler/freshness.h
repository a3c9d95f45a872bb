// Freshness per source: how old the newest record that reached PostgreSQL
// is, what its last crawls reported, and a state a person can act on.
//
//   fresh     the newest stored record is at most late_after old
//   late      older than late_after (default 2 × the schedule's interval)
//   stale     older than stale_after (default 5 ×), or the last
//             stale_after_failures crawls (default 3) all failed
//   disabled  `enabled: false` in sources.yaml
//   manual    no schedule and no thresholds given: nothing to expect
//
// The newest record comes from db-sink's heartbeats (fetched_at of the
// newest committed record per source); crawl reports from the reports
// topic. A source with no stored record yet counts its age from the
// scheduler's start. The scheduler owns one book; status replies and the
// metrics read it from their own threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/scheduler/schedule.h"
#include "brokers/control.h"
#include "config/settings.h"
#include "messages/envelope.h"

namespace ctk::scheduler {

struct freshness_rules {
  std::int64_t late_after_ms = 0, stale_after_ms = 0;  // 0: nothing expected (manual)
  std::int64_t stale_after_failures = 3;
};

// The source's own thresholds, else 2× and 5× its schedule's interval (the
// longest gap between its next eight firings after `now`).
freshness_rules rules_for(const cfg::source_settings& s, const std::optional<schedule>& when, std::int64_t now_ms);

class freshness_book {
 public:
  explicit freshness_book(std::int64_t started_ms) : started_ms_(started_ms) {}
  void add(const std::string& source, const cfg::source_settings& s, const std::optional<schedule>& when);
  void on_report(const msg::crawl_report& rep, std::int64_t now_ms);
  // Every source's state at `now_ms`, given the newest stored record per
  // source; a change of state is logged (warn when it gets worse).
  std::vector<control::source_status> evaluate(const std::map<std::string, std::int64_t>& newest, std::int64_t now_ms);

 private:
  struct entry {
    freshness_rules rules;
    std::string schedule;
    bool enabled = true;
    std::string last_id, last_status, last_error;
    std::int64_t last_report_ms = -1, failures = 0;
    std::string state;  // as last evaluated
  };
  static std::string judge(const entry& e, double age_ms);
  std::mutex mu_;
  std::map<std::string, entry> sources_;
  std::int64_t started_ms_;
};

}  // namespace ctk::scheduler
