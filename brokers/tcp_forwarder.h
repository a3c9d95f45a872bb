// Relays every TCP connection accepted on one address to another, in one
// background thread. Used to give the embedded broker a fixed bootstrap
// port.
//
// Every socket is non-blocking and every connection has its own bounded
// buffers, so a client that never reads, or sends half a request and
// stalls, holds up only its own connection: other clients keep being
// served, and stop() (or the destructor) ends the thread within one poll
// round whatever the connections are doing. Hand-written poll() rather
// than an event library: docs/decisions.md says why.
//
// Threading: start(), address() and the destructor on one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace ctk::kafka {

class tcp_forwarder {
 public:
  // Per direction of one connection: bytes read but not yet written. A
  // side whose peer does not drain this much is no longer read from.
  static constexpr std::size_t max_buffered = 1 << 20;

  // listen and target are "host:port" (IPv4). Returns nullptr and sets err on failure.
  static std::unique_ptr<tcp_forwarder> start(const std::string& listen, const std::string& target, std::string& err);
  ~tcp_forwarder();  // stops the thread (bounded: nothing in it blocks) and closes every connection
  std::string address() const { return address_; }

 private:
  tcp_forwarder() = default;
  void run();

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::string address_;
  std::string target_;
  std::thread thread_;
};

// Splits "host:port"; false when malformed.
bool split_host_port(const std::string& s, std::string& host, int& port);

}  // namespace ctk::kafka
