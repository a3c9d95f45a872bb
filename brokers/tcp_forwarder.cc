#include "brokers/tcp_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace ctk::kafka {

bool split_host_port(const std::string& s, std::string& host, int& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  auto [p, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  return ec == std::errc() && p == s.data() + s.size() && port >= 0 && port <= 65535;
}

namespace {
bool make_addr(const std::string& hp, sockaddr_in& sa, std::string& err) {
  std::string host;
  int port = 0;
  if (!split_host_port(hp, host, port)) {
    err = "not host:port: '" + hp + "'";
    return false;
  }
  if (host == "localhost") host = "127.0.0.1";
  std::memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    err = "not an IPv4 address: '" + host + "'";
    return false;
  }
  return true;
}

// One relayed connection: the accepted client and our connection to the target.
struct relay {
  int client = -1, upstream = -1;
  std::string to_upstream, to_client;  // read from one side, not yet written to the other
  bool client_eof = false, upstream_eof = false;
  bool connecting = true;  // the non-blocking connect to the target has not completed
  bool failed = false;

  short client_events() const {
    short e = 0;
    if (!connecting && !client_eof && to_upstream.size() < tcp_forwarder::max_buffered) e |= POLLIN;
    if (!to_client.empty()) e |= POLLOUT;
    return e;
  }
  short upstream_events() const {
    if (connecting) return POLLOUT;
    short e = 0;
    if (!upstream_eof && to_client.size() < tcp_forwarder::max_buffered) e |= POLLIN;
    if (!to_upstream.empty()) e |= POLLOUT;
    return e;
  }
  bool done() const { return failed || (client_eof && to_upstream.empty()) || (upstream_eof && to_client.empty()); }
};

// Reads what is there (one read: a busy connection must not starve the
// others). false on EOF or a hard error.
bool pump_in(int fd, std::string& to, char* buf, std::size_t cap) {
  const std::size_t room = tcp_forwarder::max_buffered - std::min(to.size(), tcp_forwarder::max_buffered);
  if (room == 0) return true;
  const ssize_t n = ::recv(fd, buf, std::min(cap, room), 0);
  if (n > 0) {
    to.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

// Writes what the socket takes now. false on a hard error (peer gone).
bool pump_out(int fd, std::string& from) {
  while (!from.empty()) {
    const ssize_t n = ::send(fd, from.data(), from.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    from.erase(0, static_cast<std::size_t>(n));
  }
  return true;
}

void service(relay& r, short crev, short urev, char* buf, std::size_t cap) {
  if (r.connecting) {
    if (!(urev & (POLLOUT | POLLERR | POLLHUP))) return;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(r.upstream, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      spdlog::warn("broker forwarder: cannot reach the broker listener: {}", std::strerror(so_error));
      r.failed = true;
      return;
    }
    r.connecting = false;
    urev = 0;  // nothing read yet; the write below sends what the client already sent
  }
  if ((crev & (POLLIN | POLLHUP | POLLERR)) && !r.client_eof)
    r.client_eof = !pump_in(r.client, r.to_upstream, buf, cap);
  if ((urev & (POLLIN | POLLHUP | POLLERR)) && !r.upstream_eof)
    r.upstream_eof = !pump_in(r.upstream, r.to_client, buf, cap);
  // Written at once, not on the next round: a request goes through in one pass.
  if (!pump_out(r.upstream, r.to_upstream)) r.failed = true;
  if (!pump_out(r.client, r.to_client)) r.failed = true;
}

void close_relay(relay& r) {
  ::close(r.client);
  ::close(r.upstream);
}
}  // namespace

std::unique_ptr<tcp_forwarder> tcp_forwarder::start(const std::string& listen, const std::string& target,
                                                    std::string& err) {
  sockaddr_in sa{};
  if (!make_addr(listen, sa, err)) return nullptr;
  sockaddr_in ta{};
  if (!make_addr(target, ta, err)) return nullptr;
  std::unique_ptr<tcp_forwarder> f(new tcp_forwarder());
  f->target_ = target;
  f->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(f->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(f->listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(f->listen_fd_, SOMAXCONN) != 0) {
    err = "cannot listen on " + listen + ": " + std::strerror(errno);
    return nullptr;
  }
  socklen_t len = sizeof sa;
  ::getsockname(f->listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
  f->address_ = std::string(ip) + ":" + std::to_string(ntohs(sa.sin_port));
  if (::pipe2(f->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    err = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  f->thread_ = std::thread([p = f.get()] { p->run(); });
  return f;
}

tcp_forwarder::~tcp_forwarder() {
  if (thread_.joinable()) {
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

void tcp_forwarder::run() {
  sockaddr_in ta{};
  std::string err;
  make_addr(target_, ta, err);
  std::vector<relay> relays;
  std::vector<pollfd> fds;
  std::vector<char> buf(64 * 1024);
  bool accept_paused = false;  // out of file descriptors: wait until a relay closes
  for (;;) {
    // The poll set describes exactly relays[0, n): relays accepted below
    // are serviced from the next round on.
    const std::size_t n = relays.size();
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, static_cast<short>(accept_paused ? 0 : POLLIN), 0});
    // A side with nothing wanted is left out (fd -1): poll would report its
    // hang-up on every round and spin.
    for (const auto& r : relays) {
      const short ce = r.client_events(), ue = r.upstream_events();
      fds.push_back({ce ? r.client : -1, ce, 0});
      fds.push_back({ue ? r.upstream : -1, ue, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("broker forwarder: poll: {}; the fixed port stops relaying", std::strerror(errno));
      break;
    }
    if (fds[0].revents) break;
    for (std::size_t i = 0; i < n; ++i)
      service(relays[i], fds[2 + 2 * i].revents, fds[3 + 2 * i].revents, buf.data(), buf.size());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (relays[i].done()) {
        close_relay(relays[i]);
        accept_paused = false;
      } else {
        if (kept != i) relays[kept] = std::move(relays[i]);
        ++kept;
      }
    }
    relays.resize(kept);
    if (fds[1].revents & POLLIN) {
      for (int k = 0; k < 256; ++k) {
        const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
          if (errno == EMFILE || errno == ENFILE) {
            spdlog::warn("broker forwarder: out of file descriptors with {} connections open; new ones wait",
                         relays.size());
            accept_paused = true;
          }
          break;  // EAGAIN: nothing more queued
        }
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0 || (::connect(s, reinterpret_cast<const sockaddr*>(&ta), sizeof ta) != 0 && errno != EINPROGRESS)) {
          spdlog::warn("broker forwarder: cannot reach {}: {}", target_, std::strerror(errno));
          if (s >= 0) ::close(s);
          ::close(c);
          continue;
        }
        int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        relay r;
        r.client = c;
        r.upstream = s;
        relays.push_back(std::move(r));
      }
    }
  }
  for (auto& r : relays) close_relay(r);
}

}  // namespace ctk::kafka
