#include "pipeline/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "pipeline/process.h"

namespace ctk::pipeline {

pid_t supervisor::spawn(const child& c) {
  std::vector<std::string> args = argv_(c);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);                        // a terminal's Ctrl-C reaches the parent only; it drains the children
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);     // the parent SIGKILLed: the child drains itself
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid < 0) spdlog::error("{}: fork failed: {}", c.label(), std::strerror(errno));
  return pid;
}

supervisor::~supervisor() {
  for (auto& c : children_)
    if (c.pid > 0) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
    }
}

void supervisor::add(const std::string& actor, int instance) {
  child c{actor, instance};
  c.metrics_port = base_port_ ? base_port_ + static_cast<int>(children_.size()) : free_loopback_port();
  c.started = std::chrono::steady_clock::now();
  c.pid = spawn(c);
  if (c.pid < 0) c.restart_at = c.started + std::chrono::seconds(1);
  children_.push_back(std::move(c));
}

void supervisor::tick() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& c : children_) {
    int st = 0;
    if (c.pid > 0 && ::waitpid(c.pid, &st, WNOHANG) == c.pid) {
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {  // drained on purpose (`ctl drain`): left stopped
        spdlog::info("{} (pid {}) drained and exited 0; not restarted", c.label(), c.pid);
        c.pid = 0;
        continue;
      }
      if (now - c.started >= stable_after) c.crash_streak = 0;
      const auto backoff =
          std::min<std::chrono::seconds>(max_backoff, std::chrono::seconds(1 << std::min(c.crash_streak, 5)));
      ++c.crash_streak;
      spdlog::error("{} (pid {}) exited with {}; restarting it in {} s", c.label(), c.pid,
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), backoff.count());
      c.pid = -1;
      c.restart_at = now + backoff;
    } else if (c.pid < 0 && now >= c.restart_at) {
      ++c.restarts;
      c.started = now;
      c.pid = spawn(c);
      if (c.pid > 0)
        spdlog::info("{} restarted (pid {}, restart {})", c.label(), c.pid, c.restarts);
      else
        c.restart_at = now + max_backoff;
    }
  }
}

void supervisor::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void supervisor::drain(std::chrono::seconds grace) {
  std::size_t running = 0;
  for (const auto& c : children_)
    if (c.pid > 0) {
      ::kill(c.pid, SIGTERM);
      ++running;
    }
  spdlog::info("stopping: draining {} actor processes", running);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& c : children_) {
    while (c.pid > 0) {
      int st = 0;
      if (::waitpid(c.pid, &st, WNOHANG) == c.pid) {
        c.pid = 0;
      } else if (std::chrono::steady_clock::now() > deadline) {
        spdlog::warn("{} did not drain in {} s; killing it", c.label(), grace.count());
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, &st, 0);
        c.pid = 0;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
}

}  // namespace ctk::pipeline
