// `cointicker top`: a live full-screen view of the cluster (ncurses),
// refreshed each second from the scheduler's status: nodes, every actor
// instance, each source's freshness and last crawl, dead letters per
// minute. Keys sort, filter by node, and pause / resume / drain the
// selected instance (the same ctl requests as `cointicker ctl`).
#include <ncurses.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <iostream>

#include "brokers/control.h"
#include "cli/commands.h"

namespace ctk::cli {

namespace {

using clock_type = std::chrono::steady_clock;

const char* const sort_names[] = {"identity", "lag", "in/s", "rss", "restarts"};

class top_view {
 public:
  explicit top_view(const cfg::loaded_config& c) : c_(c) {}

  int run(int interval_ms) {
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(interval_ms);
    refresh_status();
    for (bool quit = false; !quit;) {
      draw();
      const int ch = getch();
      if (ch == ERR) {
        refresh_status();
        continue;
      }
      quit = key(ch);
    }
    endwin();
    return exit_ok;
  }

 private:
  void refresh_status() {
    std::string err;
    control::status_reply st;
    if (!control::ask_status(c_.cluster.control, 1000, st, err)) {
      error_ = err;
      return;
    }
    error_.clear();
    st_ = std::move(st);
    // Dead letters per minute: the heartbeats' running totals, a minute apart.
    std::int64_t total = 0;
    for (const auto& i : st_.instances) total += i.dead_letters;
    const auto now = clock_type::now();
    dead_.emplace_back(now, total);
    while (dead_.size() > 1 && now - dead_.front().first > std::chrono::seconds(60)) dead_.pop_front();
  }

  std::vector<control::instance_status> shown() const {
    std::vector<control::instance_status> v;
    for (const auto& i : st_.instances)
      if (node_.empty() || i.node == node_) v.push_back(i);
    const auto by = [this](const control::instance_status& a, const control::instance_status& b) {
      switch (sort_) {
        case 1:
          return a.lag > b.lag;
        case 2:
          return a.consumed_per_s > b.consumed_per_s;
        case 3:
          return a.rss_bytes > b.rss_bytes;
        case 4:
          return a.restarts > b.restarts;
        default:
          return a.identity < b.identity;
      }
    };
    std::stable_sort(v.begin(), v.end(), by);
    return v;
  }

  // True to quit.
  bool key(int ch) {
    const auto list = shown();
    switch (ch) {
      case 'q':
        return true;
      case KEY_UP:
      case 'k':
        selected_ = std::max(0, selected_ - 1);
        break;
      case KEY_DOWN:
      case 'j':
        selected_ = std::min(static_cast<int>(list.size()) - 1, selected_ + 1);
        break;
      case 's':
        sort_ = (sort_ + 1) % 5;
        break;
      case 'n':
        next_node();
        break;
      case 'p':
        ctl("pause", list);
        break;
      case 'r':
        ctl("resume", list);
        break;
      case 'd':
        ctl("drain", list);
        break;
      default:
        break;
    }
    return false;
  }

  void next_node() {
    std::vector<std::string> nodes{""};
    for (const auto& n : st_.nodes) nodes.push_back(n.node);
    auto it = std::find(nodes.begin(), nodes.end(), node_);
    node_ = it == nodes.end() || it + 1 == nodes.end() ? "" : *(it + 1);
    selected_ = 0;
  }

  void ctl(const std::string& cmd, const std::vector<control::instance_status>& list) {
    if (selected_ < 0 || selected_ >= static_cast<int>(list.size())) return;
    const auto& i = list[static_cast<std::size_t>(selected_)];
    const control::command c{.type = "ctl", .cmd = cmd, .node = i.node, .actor = i.actor, .instance = i.instance};
    std::string json, err;
    msg::encode(c, json);
    const std::string reply = control::request(c_.cluster.control, json, 2000, err);
    note_ = cmd + " " + i.identity + ": " + (reply.find("\"ok\":true") != std::string::npos ? "sent" : reply + err);
    refresh_status();
  }

  void draw() {
    erase();
    int row = 0;
    mvprintw(row++, 0, "cointicker top  scheduler %s  sort: %s  node: %s", c_.cluster.control.router.c_str(),
             sort_names[sort_], node_.empty() ? "all" : node_.c_str());
    mvprintw(row++, 0, "keys: up/down (k/j) select  s sort  n node  p pause  r resume  d drain  q quit");
    if (!error_.empty()) mvprintw(row++, 0, "scheduler: %s", error_.c_str());
    if (!note_.empty()) mvprintw(row++, 0, "%s", note_.c_str());
    row = nodes(row + 1);
    row = instances(row + 1);
    row = sources(row + 1);
    if (dead_.size() > 1) {
      const double mins =
          std::max(1.0 / 60, std::chrono::duration<double>(dead_.back().first - dead_.front().first).count() / 60.0);
      mvprintw(row + 1, 0, "dead letters: %.1f per minute",
               static_cast<double>(dead_.back().second - dead_.front().second) / mins);
    }
    refresh();
  }

  int nodes(int row) {
    attron(A_BOLD);
    mvprintw(row++, 0, "%-12s %6s %6s %18s %16s %8s", "NODE", "CPU", "LOAD1", "MEMORY USED", "DISK FREE", "CLOCK");
    attroff(A_BOLD);
    const double gib = 1024.0 * 1024 * 1024;
    for (const auto& n : st_.nodes) {
      const auto& r = n.resources;
      mvprintw(row++, 0, "%-12s %5.0f%% %6.2f %8.1f/%5.1f GiB %11.1f GiB %+6lldms", n.node.c_str(),
               std::max(0.0, r.cpu_pct), r.load1, static_cast<double>(r.mem_total_bytes - r.mem_available_bytes) / gib,
               static_cast<double>(r.mem_total_bytes) / gib, static_cast<double>(r.disk_free_bytes) / gib,
               static_cast<long long>(n.clock_skew_ms));
    }
    return row;
  }

  int instances(int row) {
    const auto list = shown();
    // Never below 0: an empty list (before the first status) must not leave
    // the selection at -1, where the next Down would only reach the first row.
    selected_ = std::max(0, std::min(selected_, static_cast<int>(list.size()) - 1));
    attron(A_BOLD);
    mvprintw(row++, 0, "  %-28s %-12s %9s %9s %8s %8s %9s", "INSTANCE", "STATE", "IN/s", "OUT/s", "LAG", "RESTARTS",
             "RSS MiB");
    attroff(A_BOLD);
    for (int k = 0; k < static_cast<int>(list.size()); ++k) {
      const auto& i = list[static_cast<std::size_t>(k)];
      if (k == selected_) attron(A_REVERSE);
      mvprintw(row++, 0, "%s %-28s %-12s %9.1f %9.1f %8lld %8lld %9.0f", k == selected_ ? ">" : " ", i.identity.c_str(),
               i.state.c_str(), i.consumed_per_s, i.produced_per_s, static_cast<long long>(i.lag),
               static_cast<long long>(i.restarts), static_cast<double>(i.rss_bytes) / (1024.0 * 1024));
      if (k == selected_) attroff(A_REVERSE);
    }
    return row;
  }

  int sources(int row) {
    attron(A_BOLD);
    mvprintw(row++, 0, "%-16s %-9s %10s %-10s %5s  %s", "SOURCE", "FRESHNESS", "AGE s", "LAST CRAWL", "FAILS",
             "LAST REPORT");
    attroff(A_BOLD);
    for (const auto& s : st_.sources) {
      const std::string age = s.age_s < 0 ? "-" : std::to_string(std::llround(s.age_s));
      mvprintw(row++, 0, "%-16s %-9s %10s %-10s %5lld  %s %s", s.source.c_str(), s.state.c_str(), age.c_str(),
               s.last_status.empty() ? "-" : s.last_status.c_str(), static_cast<long long>(s.failures),
               s.last_report_at.c_str(), s.last_error.substr(0, 60).c_str());
    }
    return row;
  }

  const cfg::loaded_config& c_;
  control::status_reply st_;
  std::string error_, note_, node_;
  int sort_ = 0, selected_ = 0;
  std::deque<std::pair<clock_type::time_point, std::int64_t>> dead_;
};

}  // namespace

void add_top_command(CLI::App& app, global_options& g, int& rc) {
  auto* cmd = app.add_subcommand("top",
                                 "A live full-screen view, refreshed each second: nodes, every actor instance, each "
                                 "source's freshness and last crawl, dead letters per minute; keys sort, filter by "
                                 "node, and pause / resume / drain the selected instance (q quits)");
  auto interval = std::make_shared<int>(1000);
  cmd->add_option("--interval-ms", *interval, "how often it asks the scheduler")
      ->capture_default_str()
      ->check(CLI::Range(100, 60000));
  cmd->callback([&g, &rc, interval] {
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    rc = top_view(c).run(*interval);
  });
}

}  // namespace ctk::cli
