// The embedded broker across network namespaces (tests/support/netns_cluster.sh):
// each pair LISTEN=TARGET relays every TCP connection accepted on LISTEN to
// TARGET, with the project's own forwarder (brokers/tcp_forwarder.h), until
// SIGTERM or SIGINT.
//
//   ctk_forward LISTEN=TARGET [LISTEN=TARGET…]     (host:port, IPv4)
//
// The embedded broker advertises its loopback listener, which a client in
// another namespace cannot reach: a forwarder on the master from the
// master's address to that listener, and one on each worker from the same
// loopback address to the master's, carry the connections. Apache Kafka
// needs none of this (advertised.listeners).
#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "brokers/tcp_forwarder.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ctk_forward LISTEN=TARGET [LISTEN=TARGET…]\n";
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before the forwarders' threads start: they inherit the mask
  std::vector<std::unique_ptr<ctk::kafka::tcp_forwarder>> running;
  for (int i = 1; i < argc; ++i) {
    const std::string pair = argv[i];
    const auto eq = pair.find('=');
    if (eq == std::string::npos) {
      std::cerr << "ctk_forward: '" << pair << "' is not LISTEN=TARGET\n";
      return 2;
    }
    std::string err;
    auto f = ctk::kafka::tcp_forwarder::start(pair.substr(0, eq), pair.substr(eq + 1), err);
    if (!f) {
      std::cerr << "ctk_forward: " << pair << ": " << err << "\n";
      return 1;
    }
    std::cout << "forwarding " << f->address() << " to " << pair.substr(eq + 1) << std::endl;
    running.push_back(std::move(f));
  }
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
