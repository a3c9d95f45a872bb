// Child actor processes under one parent: `up` (one machine) and `node
// NAME` (one node of a cluster) both supervise their actors here.
//
// Each child is `cointicker run ACTOR --instance I --restarts R` (argv built
// by the caller), in its own process group so that a terminal's Ctrl-C
// reaches the parent only, and with PR_SET_PDEATHSIG so that a parent killed
// with SIGKILL does not leave actors behind. A child that crashes
// (non-zero exit or a signal) is restarted after a backoff of 1 s, 2 s, 4 s
// … 30 s; the backoff starts again at 1 s once a child has stayed up for a
// minute. A child that exits 0 drained on purpose (`ctl drain`) and stays
// stopped. The restart count goes to the child on its command line, and
// from there into its heartbeats (`status` shows it).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ctk::pipeline {

class supervisor {
 public:
  struct child;
  // argv of one child: the program first (usually /proc/self/exe).
  using argv_fn = std::function<std::vector<std::string>(const child&)>;

  struct child {
    std::string actor;
    int instance = 0;
    pid_t pid = -1;  // > 0 running; 0 drained (exit 0, not restarted); -1 waiting to restart
    int restarts = 0;
    int metrics_port = 0;  // kept across restarts, so a scraper finds the restarted child
    int crash_streak = 0;  // crashes since the child last stayed up a minute; sets the backoff
    std::chrono::steady_clock::time_point started{}, restart_at{};
    std::chrono::steady_clock::time_point last_ping{};  // its last WATCHDOG=1 (or READY=1)
    std::string label() const { return actor + (instance ? "/" + std::to_string(instance) : ""); }
  };

  // metrics_base_port: children get base, base+1, … in the order they are
  // added; 0: each gets a port that is free when it is added.
  // watchdog: each child gets the supervisor's own notify socket
  // (NOTIFY_SOCKET, WATCHDOG_USEC: systemd's protocol, which the runner
  // speaks); one that sends no WATCHDOG=1 for this long is killed and
  // restarted like a crash. 0: off. The supervisor itself pings systemd
  // from run() when systemd watches it (Type=notify, WatchdogSec=).
  supervisor(argv_fn argv, int metrics_base_port, std::chrono::milliseconds watchdog = {});
  ~supervisor();  // kills (SIGKILL) and reaps children still running
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  // Starts one child now.
  void add(const std::string& actor, int instance);
  // Reaps exited children and restarts those whose backoff has passed.
  void tick();
  // tick() every 100 ms until `stop` is set.
  void run(const std::atomic<bool>& stop);
  // SIGTERM to every child (each drains: finishes its batch, commits),
  // SIGKILL to those still running after `grace`; returns when all are gone.
  // With `which`: those children only; the others keep running.
  void drain(std::chrono::seconds grace, const std::function<bool(const child&)>& which = {});
  // `sig` to every running child that `which` selects.
  void signal(int sig, const std::function<bool(const child&)>& which);

  const std::vector<child>& children() const { return children_; }

  static constexpr std::chrono::seconds max_backoff{30};
  static constexpr std::chrono::seconds stable_after{60};

 private:
  pid_t spawn(const child& c);
  void read_pings();
  void kill_silent(std::chrono::steady_clock::time_point now);
  argv_fn argv_;
  int base_port_ = 0;
  std::vector<child> children_;
  std::chrono::milliseconds watchdog_{0};
  int notify_fd_ = -1;
  std::vector<std::string> child_env_;  // our environment with the children's NOTIFY_SOCKET and WATCHDOG_USEC
};

}  // namespace ctk::pipeline
