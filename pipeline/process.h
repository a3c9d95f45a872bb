// Process-wide helpers every command uses: logging set-up and stop signals.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ctk::pipeline {

// Default spdlog logger to stderr, each line tagged with `tag`
// (node/actor/instance for actors). Level: trace..off.
void init_logging(const std::string& tag, const std::string& level);

// SIGINT/SIGTERM set the returned flag (first signal: drain; second: exit at once).
std::atomic<bool>& install_stop_signals();
// The same flag, for code deep inside an actor that must give up early
// (a crawl waiting out a Retry-After); set only once signals are installed.
const std::atomic<bool>& stop_requested();
// Sets that flag, as SIGTERM would (a `drain` over the control plane).
void request_stop();
// Set by SIGUSR1 (installed with the stop signals): "write everything held
// back once your input has caught up" — what `up`'s lossless stop asks of
// each actor before it stops them. The runner clears it when it has done so.
std::atomic<bool>& flush_requested();

// Resident set size of this process, in bytes (from /proc/self/statm).
std::uint64_t rss_bytes();

// The machine this process runs on, for heartbeats (`status` per node):
// CPU busy since the previous read, load, memory, and the filesystem of the
// working directory (where `up`, `node` and the units keep their data).
struct node_reading {
  double cpu_pct = -1;  // -1 at the first read: no interval yet
  double load1 = 0;
  std::int64_t mem_total_bytes = 0, mem_available_bytes = 0;
  std::string disk_path;
  std::int64_t disk_total_bytes = 0, disk_free_bytes = 0;
};
class node_meter {
 public:
  node_reading read();

 private:
  std::uint64_t busy_ = 0, total_ = 0;  // /proc/stat jiffies at the previous read
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
int free_loopback_port();

// fork + execve of argv[0] (a path) as a child tied to this process: in a
// process group of its own (a terminal's Ctrl-C reaches the parent only,
// which stops its children itself) and sent SIGTERM when this process dies,
// even by SIGKILL. `env`: the child's environment (nullptr: this one's).
// Returns the pid, or -1 when fork failed.
int spawn_tied(std::vector<std::string> argv, const std::vector<std::string>* env = nullptr);

}  // namespace ctk::pipeline
