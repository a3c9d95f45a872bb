#include "actors/scheduler/freshness.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "actors/validator/normalize.h"

namespace ctk::scheduler {

freshness_rules rules_for(const cfg::source_settings& s, const std::optional<schedule>& when, std::int64_t now_ms) {
  freshness_rules r;
  r.stale_after_failures = s.freshness.stale_after_failures;
  std::int64_t interval = 0;
  if (when) {
    std::int64_t t = when->next_after(now_ms);
    for (int i = 0; i < 8; ++i) {
      const std::int64_t next = when->next_after(t);
      interval = std::max(interval, next - t);
      t = next;
    }
  }
  r.late_after_ms = s.freshness.late_after.empty() ? 2 * interval : s.freshness.late_after.ms;
  r.stale_after_ms = s.freshness.stale_after.empty() ? 5 * interval : s.freshness.stale_after.ms;
  return r;
}

void freshness_book::add(const std::string& source, const cfg::source_settings& s,
                         const std::optional<schedule>& when) {
  std::lock_guard lock(mu_);
  auto& e = sources_[source];
  e.rules = rules_for(s, when, started_ms_);
  e.schedule = when ? when->describe() : "manual";
  e.enabled = s.enabled;
}

void freshness_book::on_report(const msg::crawl_report& rep, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = sources_.find(rep.source);
  if (it == sources_.end()) return;
  auto& e = it->second;
  if (rep.id == e.last_id) return;  // the scheduler reads each report twice (group and follower)
  e.last_id = rep.id;
  e.last_status = rep.status;
  e.last_report_ms = now_ms;
  const bool failed = rep.status == "failed" || rep.status == "refused";
  e.failures = failed ? e.failures + 1 : 0;
  e.last_error = rep.error;
}

std::string freshness_book::judge(const entry& e, double age_ms) {
  if (!e.enabled) return "disabled";
  if (e.rules.late_after_ms <= 0 && e.rules.stale_after_ms <= 0) return "manual";
  if ((e.rules.stale_after_ms > 0 && age_ms > static_cast<double>(e.rules.stale_after_ms)) ||
      (e.rules.stale_after_failures > 0 && e.failures >= e.rules.stale_after_failures))
    return "stale";
  if (e.rules.late_after_ms > 0 && age_ms > static_cast<double>(e.rules.late_after_ms)) return "late";
  return "fresh";
}

std::vector<control::source_status> freshness_book::evaluate(const std::map<std::string, std::int64_t>& newest,
                                                             std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<control::source_status> out;
  for (auto& [name, e] : sources_) {
    control::source_status st;
    st.source = name;
    st.schedule = e.schedule;
    st.late_after_s = static_cast<double>(e.rules.late_after_ms) / 1000.0;
    st.stale_after_s = static_cast<double>(e.rules.stale_after_ms) / 1000.0;
    auto it = newest.find(name);
    const std::int64_t since = it == newest.end() ? started_ms_ : it->second;
    if (it != newest.end()) st.newest_record_at = validator::format_utc_ms(it->second);
    const double age_ms = static_cast<double>(std::max<std::int64_t>(0, now_ms - since));
    st.state = judge(e, age_ms);
    // Nothing stored and nothing expected: no age to speak of.
    st.age_s = it == newest.end() && (st.state == "disabled" || st.state == "manual") ? -1 : age_ms / 1000.0;
    st.last_status = e.last_status;
    if (e.last_report_ms >= 0) st.last_report_at = validator::format_utc_ms(e.last_report_ms);
    st.failures = e.failures;
    st.last_error = e.last_error;
    if (st.state != e.state) {
      const bool worse = st.state == "late" || st.state == "stale";
      const std::string why = e.failures > 0 ? fmt::format("; {} failed crawls in a row, last: {}", e.failures,
                                                           e.last_error.empty() ? e.last_status : e.last_error)
                                             : "";
      if (!e.state.empty() || worse)
        spdlog::log(worse ? spdlog::level::warn : spdlog::level::info, "freshness: {} {} -> {} ({} {:.1f} s{})", name,
                    e.state.empty() ? "unknown" : e.state, st.state,
                    it == newest.end() ? "no record stored since the scheduler started" : "newest stored record is",
                    age_ms / 1000.0, why);
      e.state = st.state;
    }
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace ctk::scheduler
