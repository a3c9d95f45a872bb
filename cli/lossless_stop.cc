#include "cli/lossless_stop.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "actors/registry.h"
#include "brokers/topic_report.h"

namespace ctk::cli {

namespace {

using clock = std::chrono::steady_clock;
using backlogs = std::map<std::string, std::map<std::string, std::int64_t>>;  // actor → topic → records

bool feeds(const pipeline::supervisor::child& c) {
  const auto* e = actors::find(c.actor);
  return e && e->feeds;
}

std::int64_t total(const std::map<std::string, std::int64_t>& per_topic) {
  std::int64_t n = 0;
  for (const auto& [topic, count] : per_topic) n += count;
  return n;
}

// The actors (kinds) still running that consume pipeline data, upstream
// first: measured in this order, a round's backlogs form a consistent cut
// (records that move downstream while a round runs are not missed).
std::vector<std::string> consumers_left(const pipeline::supervisor& sup) {
  std::set<std::string> kinds;
  for (const auto& c : sup.children())
    if (c.pid != 0 && !feeds(c)) kinds.insert(c.actor);
  return actors::upstream_first({kinds.begin(), kinds.end()});
}

// false when the broker could not be asked (`err` says why).
bool measure(const kafka::properties& props, const kafka::names& names, const std::vector<std::string>& actors,
             backlogs& out, std::string& err) {
  for (const auto& a : actors) {
    std::vector<std::string> topics;
    for (const auto& t : actors::find(a)->inputs) topics.push_back(names.topic(t));
    if (!kafka::group_backlog(props, names.group(a), topics, out[a], err)) return false;
  }
  return true;
}

// Every actor still running that produces one of a's inputs has caught up.
bool upstream_done(const std::string& a, const std::vector<std::string>& actors, const backlogs& b) {
  for (const auto& t : actors::find(a)->inputs)
    for (const auto& up : actors) {
      const auto& outs = actors::find(up)->outputs;
      if (up != a && std::find(outs.begin(), outs.end(), t) != outs.end() && total(b.at(up)) > 0) return false;
    }
  return true;
}

std::string describe(const backlogs& b) {
  std::string s;
  for (const auto& [actor, per_topic] : b)
    for (const auto& [topic, n] : per_topic)
      if (n > 0) s += fmt::format("{}{} {} on {}", s.empty() ? "" : ", ", actor, n, topic);
  return s;
}

}  // namespace

std::int64_t lossless_stop(pipeline::supervisor& sup, const cfg::cluster_settings& s, const std::string& bootstrap,
                           std::chrono::seconds timeout, const std::string& left_where) {
  sup.drain(timeout, feeds);
  const auto started = clock::now();
  const std::vector<std::string> actors = consumers_left(sup);
  if (actors.empty()) return 0;
  kafka::properties props = s.kafka.properties;
  props["bootstrap.servers"] = bootstrap;
  const kafka::names names{s.kafka.prefix};
  spdlog::info("stopping: waiting up to {} s for every record to be consumed and stored (Ctrl-C again: stop at once)",
               timeout.count());
  std::map<std::string, clock::time_point> asked;
  backlogs b;
  int unreadable = 0;
  for (;;) {
    sup.tick();  // a child that crashes meanwhile is restarted as usual
    std::string err;
    const bool measured = measure(props, names, actors, b, err);
    const auto now = clock::now();
    if (!measured) {
      // The broker may be back in a moment (a restart, a network blip): asked again until the timeout.
      if (!unreadable++) spdlog::warn("stopping: cannot read the consumer groups' offsets yet ({})", err);
      if (now - started >= timeout) {
        spdlog::error("stopping after {} s: cannot read the consumer groups' offsets ({}); what is not stored yet: {}",
                      timeout.count(), err, left_where);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    std::int64_t left = 0;
    for (const auto& [a, per_topic] : b) left += total(per_topic);
    if (left == 0) {
      spdlog::info("stopping: every record is stored ({:.1f} s)", std::chrono::duration<double>(now - started).count());
      return 0;
    }
    if (now - started >= timeout) {
      spdlog::warn("stopping after {} s with {} records not yet stored ({}): {}", timeout.count(), left, describe(b),
                   left_where);
      return left;
    }
    for (const auto& a : actors)
      if (total(b[a]) > 0 && upstream_done(a, actors, b) && now - asked[a] >= std::chrono::seconds(1)) {
        sup.signal(SIGUSR1, [&](const pipeline::supervisor::child& c) { return c.actor == a; });
        asked[a] = now;
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace ctk::cli
