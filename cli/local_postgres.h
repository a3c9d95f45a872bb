// A private PostgreSQL server in a data folder, for `cointicker up` when no
// DSN is configured: initdb on first use (as the `postgres` user when run
// as root: initdb refuses root), then pg_ctl start on loopback. A second
// start on the same folder reuses the data and the port.
#pragma once

#include <optional>
#include <string>

namespace ctk::cli {

class local_postgres {
 public:
  explicit local_postgres(std::string dir);
  ~local_postgres();  // stops the server if this object started it
  // The DSN, or nullopt with `err` (no server binaries, initdb or start failed).
  std::optional<std::string> start(std::string& err);
  void stop();
  // The DSN of the server a previous start() set up in `dir` (its port
  // file), without starting anything; nullopt when there is none.
  static std::optional<std::string> dsn_of(const std::string& dir);

 private:
  std::string dir_;
  bool started_ = false;
};

}  // namespace ctk::cli
