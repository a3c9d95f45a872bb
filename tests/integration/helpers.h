// Helpers shared by the integration tests: kcat and the cointicker CLI.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "brokers/kafka.h"
#include "pipeline/process.h"
#include "tests/support/process.h"

namespace ctk::test {

inline std::string cointicker() {
  return binary_dir() + "/cointicker --config " + std::string(CTK_SOURCE_DIR) + "/config";
}

// Produces "key:value" lines with kcat (keyed, so they spread over partitions).
// partition -1: placed by key; else every line goes to that partition.
inline void kcat_produce(const std::string& bootstrap, const std::string& topic, const std::vector<std::string>& lines,
                         const std::string& dir, int partition = -1) {
  const std::string file = dir + "/produce-" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream out(file);
    for (const auto& l : lines) out << l << "\n";
  }
  std::string out;
  const std::string p = partition < 0 ? "" : " -p " + std::to_string(partition);
  int rc = run("kcat -b " + bootstrap + " -P -t " + topic + p + " -K: -l " + file + " 2>&1", &out);
  if (rc != 0) throw std::runtime_error("kcat produce failed: " + out);
}

// Every message value of a topic, read by kcat from the beginning to the end.
inline std::vector<std::string> kcat_values(const std::string& bootstrap, const std::string& topic) {
  std::string out;
  run("kcat -b " + bootstrap + " -C -t " + topic + " -e -q -f '%s\\n' 2>/dev/null", &out);
  std::vector<std::string> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) v.push_back(line);
  return v;
}

// Sum of `group`'s committed offsets on topic's partitions 0..partitions-1
// (-1 when the broker cannot be asked).
inline std::int64_t committed_sum(const std::string& bootstrap, const std::string& group, const std::string& topic,
                                  int partitions) {
  std::vector<ctk::kafka::topic_partition> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back({topic, p, RD_KAFKA_OFFSET_INVALID});
  std::string err;
  if (!ctk::kafka::committed_offsets({{"bootstrap.servers", bootstrap}}, group, parts, err)) return -1;
  std::int64_t sum = 0;
  for (const auto& p : parts) sum += p.offset > 0 ? p.offset : 0;
  return sum;
}

// Messages in a topic (sum of end minus start offsets), from `cointicker topics`.
inline long topic_messages(const std::string& bootstrap, const std::string& topic) {
  std::string out;
  run(binary_dir() + "/cointicker --config " + std::string(CTK_SOURCE_DIR) + "/config --bootstrap " + bootstrap +
          " topics 2>/dev/null | awk '$1==\"" + topic + "\" {print $3}'",
      &out);
  return out.empty() ? -1 : std::stol(out);
}

// The HTTP status of GET http://127.0.0.1:PORT/PATH ("000": no answer).
// The broker killed for good (SIGKILL), then SIGTERM to the actor: its exit
// code, or -1 if it has not exited within `limit` (then it is SIGKILLed, so
// that a failing test leaves no process behind).
inline int stop_after_broker_died(broker& b, child& actor, std::chrono::seconds limit) {
  b.process().signal(SIGKILL);
  EXPECT_EQ(b.process().wait(std::chrono::seconds(10)), 128 + SIGKILL);
  actor.signal(SIGTERM);
  const int rc = actor.wait(limit);
  if (rc < 0) actor.signal(SIGKILL);
  return rc;
}

inline std::string http_status(int port, const std::string& path) {
  std::string out;
  run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(port) + path, &out);
  return out;
}

inline int free_port() { return ctk::pipeline::free_loopback_port(); }

// A free loopback port below the kernel's ephemeral range, for a listener
// that is stopped and started again on the same port while clients keep
// reconnecting: a client's connect to a port in the ephemeral range with no
// listener can be given that very port as its own and connect to itself
// (TCP simultaneous open), holding the port so the restarted listener
// cannot bind it.
inline int free_port_below_ephemeral() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  static int next = 0;
  if (next == 0) next = 10000 + static_cast<int>(::getpid() % 5000) * 2;
  for (int tries = 0; tries < 2000; ++tries) {
    const int port = next++;
    if (next >= low) next = 10000;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    if (free) return port;
  }
  return free_port();
}

// The control plane's ports for one `up` (its scheduler binds them), and a
// free port for its dashboard.
inline std::map<std::string, std::string> free_control_ports() {
  return {{"CTK_CONTROL__ROUTER", "tcp://127.0.0.1:" + std::to_string(free_port())},
          {"CTK_CONTROL__PUB", "tcp://127.0.0.1:" + std::to_string(free_port())},
          {"CTK_API__LISTEN", "127.0.0.1:0"},
          // Metrics on free ports too: the shipped fixed ports (9400 + n) would be
          // shared by tests running side by side, each falling back but
          // naming the configured port in its banner.
          {"CTK_METRICS__BASE_PORT", "0"}};
}

// `cointicker up ARGS…` with the repository's config, a broker on a free
// fixed port and free control ports, in `dir` (where it keeps ./var), with
// `env` added to its environment.
inline std::unique_ptr<child> start_up(const std::string& dir, const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv{binary_dir() + "/cointicker",
                                "--config",
                                std::string(CTK_SOURCE_DIR) + "/config",
                                "up",
                                "--listen",
                                "127.0.0.1:" + std::to_string(free_port())};
  argv.insert(argv.end(), args.begin(), args.end());
  auto all_env = free_control_ports();
  all_env.insert(env.begin(), env.end());
  return std::make_unique<child>(argv, dir + "/up.out", dir + "/up.err", all_env, dir);
}

// Waits for up's banner; its broker's bootstrap address ("" if up exited first).
inline std::string wait_for_banner(child& up) {
  if (!wait_until([&] { return up.out().find("Ctrl-C stops everything") != std::string::npos || !up.running(); },
                  std::chrono::seconds(30)) ||
      !up.running())
    return "";
  const std::string banner = up.out();
  const auto at = banner.find("broker     ") + 11;
  return banner.substr(at, banner.find(' ', at) - at);
}

// A "key:value" line of an upbit ticker for kcat: record `id` of 64
// symbols, one second apart from 2024-09-05 00:00 UTC (distinct ids).
inline std::string ticker_line(long id) {
  const std::string symbol = "KRW-S" + std::to_string(id % 64);
  return "upbit/" + symbol +
         R"(:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-29T00:00:00Z","data":{"symbol":")" + symbol +
         R"(","price":)" + std::to_string(1000 + id % 97) + R"(,"volume_24h":1,"change_24h":0,"timestamp":)" +
         std::to_string(1725494400000LL + 1000LL * id) + "}}";
}

// A plain TCP connection to 127.0.0.1:port (a client that does what the
// test says, byte by byte); -1 when refused.
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct socket_closer {
  int fd;
  ~socket_closer() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace ctk::test
