#include "cli/local_postgres.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pipeline/process.h"

namespace ctk::cli {

namespace fs = std::filesystem;

namespace {
std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::string server_bindir() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(e.path() / "bin" / "pg_ctl")) dirs.push_back(e.path() / "bin");
  if (dirs.empty()) return {};
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.parent_path().filename().string()) < std::stoi(b.parent_path().filename().string());
  });
  return dirs.back().string();
}

// Runs a server command as the data folder's owner.
int as_owner(const std::string& cmd) {
  const std::string full = (::geteuid() == 0 ? "runuser -u postgres -- " : "") + cmd;
  return std::system(full.c_str());
}
}  // namespace

local_postgres::local_postgres(std::string dir) : dir_(fs::absolute(dir).lexically_normal().string()) {}

local_postgres::~local_postgres() { stop(); }

std::optional<std::string> local_postgres::dsn_of(const std::string& dir) {
  int port = 0;
  if (std::ifstream in(dir + "/port"); in) in >> port;
  if (port <= 0) return std::nullopt;
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
}

std::optional<std::string> local_postgres::start(std::string& err) {
  const std::string bin = server_bindir();
  if (bin.empty()) {
    err = "no PostgreSQL server under /usr/lib/postgresql (deploy/setup.sh installs it), and no --db DSN given";
    return std::nullopt;
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (::geteuid() == 0 && std::system(("chown postgres: " + quote(dir_)).c_str()) != 0) {
    err = "cannot give " + dir_ + " to the postgres user";
    return std::nullopt;
  }
  const std::string data = dir_ + "/data";
  if (!fs::exists(data + "/PG_VERSION")) {
    spdlog::info("creating a private PostgreSQL in {} (initdb)", data);
    if (as_owner(quote(bin + "/initdb") + " -D " + quote(data) +
                 " -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >" + quote(dir_ + "/initdb.log") + " 2>&1") != 0) {
      err = "initdb failed; see " + dir_ + "/initdb.log";
      return std::nullopt;
    }
  }
  int port = 0;
  if (std::ifstream in(dir_ + "/port"); in) in >> port;
  if (port <= 0) port = pipeline::free_loopback_port();
  std::ofstream(dir_ + "/port") << port << "\n";
  const std::string dsn = *dsn_of(dir_);
  if (fs::exists(data + "/postmaster.pid")) {
    // Left by a crash, or still running: pg_ctl tells. Still running from
    // an `up` that is gone (SIGKILL, a power cut of the terminal): taken
    // over, and stopped by this one. From an `up` that runs: refused.
    if (as_owner(quote(bin + "/pg_ctl") + " -D " + quote(data) + " status >/dev/null 2>&1") == 0) {
      pid_t owner = 0;
      if (std::ifstream in(dir_ + "/owner"); in) in >> owner;
      if (owner > 0 && owner != ::getpid() && (::kill(owner, 0) == 0 || errno != ESRCH)) {
        err = "PostgreSQL in " + data + " is already running for another `up` (pid " + std::to_string(owner) + ")";
        return std::nullopt;
      }
      spdlog::warn(
          "PostgreSQL in {} was left running by an `up` that is gone (pid {}); using it, and stopping it at the end",
          data, owner);
      std::ofstream(dir_ + "/owner") << ::getpid() << "\n";
      started_ = true;
      return dsn;
    }
  }
  if (as_owner(quote(bin + "/pg_ctl") + " -D " + quote(data) + " -l " + quote(dir_ + "/server.log") + " -w -t 60 -o " +
               quote("-k " + dir_ + " -p " + std::to_string(port) + " -c listen_addresses=127.0.0.1") +
               " start >/dev/null") != 0) {
    err = "PostgreSQL did not start; see " + dir_ + "/server.log";
    return std::nullopt;
  }
  std::ofstream(dir_ + "/owner") << ::getpid() << "\n";  // who stops it (see above)
  started_ = true;
  return dsn;
}

void local_postgres::stop() {
  if (!started_) return;
  started_ = false;
  const std::string bin = server_bindir();
  if (as_owner(quote(bin + "/pg_ctl") + " -D " + quote(dir_ + "/data") + " -m fast -w stop >/dev/null") != 0)
    spdlog::warn("PostgreSQL in {} did not stop cleanly", dir_);
}

}  // namespace ctk::cli
