// Relays every TCP connection accepted on one address to another, in one
// background thread (poll()). Used to give the embedded broker a fixed
// bootstrap port. Stops and joins on destruction.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace ctk::kafka {

class tcp_forwarder {
 public:
  // listen and target are "host:port" (IPv4). Returns nullptr and sets err on failure.
  static std::unique_ptr<tcp_forwarder> start(const std::string& listen, const std::string& target, std::string& err);
  ~tcp_forwarder();
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
