#include "brokers/tcp_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

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

struct pair_state {
  int a, b;
  std::string a_to_b, b_to_a;  // bytes read but not yet written
  bool a_eof = false, b_eof = false;
};
}  // namespace

std::unique_ptr<tcp_forwarder> tcp_forwarder::start(const std::string& listen, const std::string& target,
                                                    std::string& err) {
  sockaddr_in sa{};
  if (!make_addr(listen, sa, err)) return nullptr;
  sockaddr_in ta{};
  if (!make_addr(target, ta, err)) return nullptr;
  std::unique_ptr<tcp_forwarder> f(new tcp_forwarder());
  f->target_ = target;
  f->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(f->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(f->listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(f->listen_fd_, 64) != 0) {
    err = "cannot listen on " + listen + ": " + std::strerror(errno);
    return nullptr;
  }
  socklen_t len = sizeof sa;
  ::getsockname(f->listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
  f->address_ = std::string(ip) + ":" + std::to_string(ntohs(sa.sin_port));
  if (::pipe2(f->wake_, O_CLOEXEC) != 0) {
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
  std::vector<pair_state> pairs;
  sockaddr_in ta{};
  std::string err;
  make_addr(target_, ta, err);
  char buf[64 * 1024];
  for (;;) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (auto& p : pairs) {
      fds.push_back({p.a, static_cast<short>((p.a_eof || p.a_to_b.size() > 1 << 20 ? 0 : POLLIN) | (p.b_to_a.empty() ? 0 : POLLOUT)), 0});
      fds.push_back({p.b, static_cast<short>((p.b_eof || p.b_to_a.size() > 1 << 20 ? 0 : POLLIN) | (p.a_to_b.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(s, reinterpret_cast<sockaddr*>(&ta), sizeof ta) != 0) {
          spdlog::warn("broker forwarder: cannot reach {}: {}", target_, std::strerror(errno));
          ::close(s);
          ::close(c);
        } else {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          pairs.push_back({c, s, {}, {}});
        }
      }
    }
    std::vector<bool> dead(pairs.size(), false);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      auto& p = pairs[i];
      const pollfd& fa = fds[2 + 2 * i];
      const pollfd& fb = fds[3 + 2 * i];
      auto pump_in = [&](int fd, std::string& to, bool& eof, short rev) {
        if (!(rev & (POLLIN | POLLHUP | POLLERR))) return;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) to.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = true;
      };
      auto pump_out = [&](int fd, std::string& from, short rev) {
        if (!(rev & POLLOUT) || from.empty()) return true;
        ssize_t n = ::write(fd, from.data(), from.size());
        if (n < 0) return errno == EAGAIN || errno == EINTR;
        from.erase(0, static_cast<std::size_t>(n));
        return true;
      };
      pump_in(p.a, p.a_to_b, p.a_eof, fa.revents);
      pump_in(p.b, p.b_to_a, p.b_eof, fb.revents);
      bool ok = pump_out(p.b, p.a_to_b, fb.revents) && pump_out(p.a, p.b_to_a, fa.revents);
      if (!ok || (p.a_eof && p.a_to_b.empty()) || (p.b_eof && p.b_to_a.empty())) dead[i] = true;
    }
    for (std::size_t i = pairs.size(); i-- > 0;)
      if (dead[i]) {
        ::close(pairs[i].a);
        ::close(pairs[i].b);
        pairs.erase(pairs.begin() + static_cast<long>(i));
      }
  }
  for (auto& p : pairs) {
    ::close(p.a);
    ::close(p.b);
  }
}

}  // namespace ctk::kafka
