#include "pipeline/process.h"

#include <netinet/in.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ctk::pipeline {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};
std::atomic<bool> g_flush{false};

void on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // second Ctrl-C: give up draining
  g_stop.store(true);
}

void on_flush_signal(int) { g_flush.store(true); }

// `<N>` before a line: its syslog priority, which journald reads from a
// service's stderr (SyslogLevelPrefix=, on by default).
class syslog_priority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& m, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr const char* prefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const auto i = static_cast<std::size_t>(m.level);
    const std::string_view p = prefix[i < 7 ? i : 6];
    dest.append(p.data(), p.data() + p.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<syslog_priority>(); }
};

// Under journald (JOURNAL_STREAM set: stderr is a journal stream) a line
// gets its priority and no time of its own (the journal stamps it);
// elsewhere, a timestamp and the level.
std::unique_ptr<spdlog::formatter> line_format(const std::string& tag) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  if (const char* j = std::getenv("JOURNAL_STREAM"); j && *j) {
    f->add_flag<syslog_priority>('*').set_pattern("%*[" + tag + "] %v");
  } else {
    f->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [" + tag + "] %v");
  }
  return f;
}
}  // namespace

void init_logging(const std::string& tag, const std::string& level) {
  auto logger = spdlog::stderr_color_mt("main");
  logger->set_formatter(line_format(tag));
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
  auto kafka = spdlog::stderr_color_mt("kafka");
  kafka->set_formatter(line_format(tag + " kafka"));
  kafka->set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

std::atomic<bool>& install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_flush_signal;
  sigaction(SIGUSR1, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return g_stop;
}

const std::atomic<bool>& stop_requested() { return g_stop; }

void request_stop() { g_stop.store(true); }

std::atomic<bool>& flush_requested() { return g_flush; }

std::uint64_t rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

node_reading node_meter::read() {
  node_reading r;
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    unsigned long long v[8] = {};
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                    &v[7]) == 8) {
      const std::uint64_t idle = v[3] + v[4], total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
      const std::uint64_t busy = total - idle;
      if (total_ != 0 && total > total_)
        r.cpu_pct = 100.0 * static_cast<double>(busy - std::min(busy, busy_)) / static_cast<double>(total - total_);
      busy_ = busy;
      total_ = total;
    }
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &r.load1) != 1) r.load1 = 0;
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/meminfo", "r")) {
    char key[64];
    long long kb = 0;
    while (std::fscanf(f, "%63s %lld kB\n", key, &kb) == 2) {
      if (std::strcmp(key, "MemTotal:") == 0) r.mem_total_bytes = kb * 1024;
      if (std::strcmp(key, "MemAvailable:") == 0) r.mem_available_bytes = kb * 1024;
    }
    std::fclose(f);
  }
  char cwd[4096];
  struct statvfs fs {};
  if (::getcwd(cwd, sizeof cwd) && ::statvfs(cwd, &fs) == 0) {
    r.disk_path = cwd;
    r.disk_total_bytes = static_cast<std::int64_t>(fs.f_blocks) * static_cast<std::int64_t>(fs.f_frsize);
    r.disk_free_bytes = static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize);
  }
  return r;
}

int free_loopback_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  int port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    port = ntohs(sa.sin_port);
  ::close(s);
  return port;
}

int spawn_tied(std::vector<std::string> args, const std::vector<std::string>* env) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> own = env ? *env : std::vector<std::string>{};
  std::vector<char*> envp;
  for (auto& e : own) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
    // Ignored until the child installs its handler (install_stop_signals):
    // a lossless stop's SIGUSR1 must not kill a child that is just starting.
    ::signal(SIGUSR1, SIG_IGN);
    ::execve(argv[0], argv.data(), env ? envp.data() : environ);
    ::_exit(127);
  }
  return pid;
}

}  // namespace ctk::pipeline
