#include "pipeline/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#include "pipeline/process.h"

namespace ctk::pipeline {

supervisor::supervisor(argv_fn argv, int metrics_base_port, std::chrono::milliseconds watchdog)
    : argv_(std::move(argv)), base_port_(metrics_base_port), watchdog_(watchdog) {
  // The children's environment, made here: after fork only exec is safe.
  for (char** e = environ; *e; ++e) {
    const std::string_view v(*e);
    if (!v.starts_with("NOTIFY_SOCKET=") && !v.starts_with("WATCHDOG_USEC=") && !v.starts_with("WATCHDOG_PID="))
      child_env_.emplace_back(v);
  }
  if (watchdog_.count() <= 0) return;
  // An abstract unix socket (no file to clean up), with the sender's pid on each message.
  const std::string name = "cointicker-supervisor-" + std::to_string(::getpid());
  notify_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path + 1, name.data(), name.size());
  int on = 1;
  if (notify_fd_ < 0 || ::setsockopt(notify_fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
      ::bind(notify_fd_, reinterpret_cast<sockaddr*>(&sa),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) != 0) {
    spdlog::warn("supervisor: no watchdog socket ({}); hung children are not detected", std::strerror(errno));
    if (notify_fd_ >= 0) ::close(notify_fd_);
    notify_fd_ = -1;
    return;
  }
  child_env_.push_back("NOTIFY_SOCKET=@" + name);
  child_env_.push_back("WATCHDOG_USEC=" + std::to_string(watchdog_.count() * 1000));
}

void supervisor::read_pings() {
  if (notify_fd_ < 0) return;
  char buf[512];
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(ucred))];
  for (;;) {
    iovec iov{buf, sizeof buf - 1};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    const ssize_t n = ::recvmsg(notify_fd_, &m, MSG_DONTWAIT);
    if (n < 0) return;
    const cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_CREDENTIALS) continue;
    ucred cred{};
    std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
    const std::string_view text(buf, static_cast<std::size_t>(n));
    if (text.find("WATCHDOG=1") == std::string_view::npos && text.find("READY=1") == std::string_view::npos) continue;
    for (auto& k : children_)
      if (k.pid == cred.pid) k.last_ping = std::chrono::steady_clock::now();
  }
}

// A child whose loop has not come round for the watchdog's time is stuck
// (a deadlock, a call that never returns): SIGKILL, and tick() restarts it.
void supervisor::kill_silent(std::chrono::steady_clock::time_point now) {
  if (notify_fd_ < 0) return;
  for (auto& c : children_) {
    if (c.pid <= 0 || now - std::max(c.started, c.last_ping) <= watchdog_) continue;
    spdlog::error("{} (pid {}) sent no watchdog ping for {} s: its loop is stuck; killing it", c.label(), c.pid,
                  std::chrono::duration_cast<std::chrono::seconds>(watchdog_).count());
    ::kill(c.pid, SIGKILL);
    c.last_ping = now;  // once: it is reaped and restarted by tick()
  }
}

pid_t supervisor::spawn(const child& c) {
  const pid_t pid = spawn_tied(argv_(c), &child_env_);
  if (pid < 0) spdlog::error("{}: fork failed: {}", c.label(), std::strerror(errno));
  return pid;
}

supervisor::~supervisor() {
  if (notify_fd_ >= 0) ::close(notify_fd_);
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
  read_pings();
  const auto now = std::chrono::steady_clock::now();
  kill_silent(now);
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
  std::uint64_t usec = 0;
  const bool watched = sd_watchdog_enabled(0, &usec) > 0;
  sd_notifyf(0, "READY=1\nSTATUS=supervising %zu actor processes", children_.size());
  auto next_ping = std::chrono::steady_clock::now();
  while (!stop.load()) {
    tick();
    if (watched && std::chrono::steady_clock::now() >= next_ping) {
      sd_notify(0, "WATCHDOG=1");
      next_ping = std::chrono::steady_clock::now() + std::chrono::microseconds(usec / 2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  sd_notify(0, "STOPPING=1");
}

void supervisor::drain(std::chrono::seconds grace, const std::function<bool(const child&)>& which) {
  const auto chosen = [&](const child& c) { return c.pid > 0 && (!which || which(c)); };
  std::size_t running = 0;
  for (const auto& c : children_)
    if (chosen(c)) {
      ::kill(c.pid, SIGTERM);
      ++running;
    }
  if (running == 0) return;
  spdlog::info("stopping: draining {} actor processes", running);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& c : children_) {
    if (!chosen(c)) continue;
    while (c.pid > 0) {
      // Children still running keep notifying (WATCHDOG=1, STOPPING=1): a
      // full notify socket would block them in sd_notify.
      read_pings();
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

void supervisor::signal(int sig, const std::function<bool(const child&)>& which) {
  for (const auto& c : children_)
    if (c.pid > 0 && which(c)) ::kill(c.pid, sig);
}

}  // namespace ctk::pipeline
