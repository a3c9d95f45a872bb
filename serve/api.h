// `cointicker serve`: the REST API under /api/v1 (described by
// /api/v1/openapi.json) and the web UI, over a read-only PostgreSQL pool and
// the control plane. See serve/README.md.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "config/loader.h"

namespace httplib {
class Server;
}

namespace ctk::serve {

class api {
 public:
  // conninfo: the libpq connection string (password included; never
  // logged). token: the bearer token for actions; empty: actions refused.
  api(const cfg::loaded_config& c, std::string conninfo, std::string token);
  ~api();

  // Binds api.listen (port 0: a free one); false with `err`.
  bool bind(std::string& err);
  int port() const { return port_; }
  // Serves until stop() (from another thread or a signal watcher).
  void serve();
  void stop();

 private:
  static void widen_backlog(int port);

  struct impl;
  std::unique_ptr<impl> d_;
  int port_ = 0;
};

}  // namespace ctk::serve
