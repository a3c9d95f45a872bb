// TEST DOUBLE — not Hadoop. A small WebHDFS server that follows the Hadoop
// WebHDFS REST documentation closely enough to test our client against it:
// a "NameNode" port answering MKDIRS, CREATE/APPEND/OPEN (307 to the
// "DataNode" port), RENAME, LISTSTATUS, GETFILESTATUS and DELETE, with
// errors as JSON RemoteException; files live in --root. No internet and no
// Hadoop package here (Debian has none), so this stands in for a cluster.
//
//   ctk_webhdfs_double --root DIR [--bind ADDR] [--fail-datanode N] [--require-user] [--hang-ms MS]
// prints "namenode ADDR:PORT" (ADDR 127.0.0.1 unless --bind) as its first line, then serves until
// SIGTERM. --fail-datanode N: the first N DataNode writes answer 500.
// SIGUSR1 starts an outage, the next SIGUSR1 ends it: meanwhile every
// request, NameNode or DataNode, answers 500 or (every other one) hangs
// for --hang-ms before answering 500, as a client timeout sees it.
#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;

namespace {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

void remote_exception(httplib::Response& res, int status, const std::string& ex, const std::string& msg) {
  res.status = status;
  res.set_content(R"({"RemoteException":{"exception":")" + ex + R"(","javaClassName":"java.io.)" + ex +
                      R"(","message":")" + json_escape(msg) + R"("}})",
                  "application/json");
}

std::string file_status_json(const fs::path& p, const std::string& suffix) {
  const bool dir = fs::is_directory(p);
  const auto len = dir ? 0 : fs::file_size(p);
  return R"({"accessTime":0,"blockSize":134217728,"group":"supergroup","length":)" + std::to_string(len) +
         R"(,"modificationTime":0,"owner":"cointicker","pathSuffix":")" + json_escape(suffix) +
         R"(","permission":"755","replication":)" + (dir ? "0" : "3") + R"(,"type":")" + (dir ? "DIRECTORY" : "FILE") +
         R"("})";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"WebHDFS test double (not Hadoop)"};
  std::string root;
  int fail_datanode = 0;
  bool require_user = false;
  std::string bind = "127.0.0.1";
  app.add_option("--root", root, "folder holding the files")->required();
  app.add_option("--bind", bind, "the address both ports listen on (the DataNode redirects name it)");
  app.add_option("--fail-datanode", fail_datanode, "the first N DataNode writes answer HTTP 500");
  int hang_ms = 3000;
  app.add_option("--hang-ms", hang_ms, "during an outage (SIGUSR1), how long every other request hangs");
  app.add_flag("--require-user", require_user, "refuse requests without user.name (403 AccessControlException)");
  CLI11_PARSE(app, argc, argv);
  fs::create_directories(root);
  std::atomic<int> failures_left{fail_datanode};
  std::mutex mu;  // one operation at a time, like a NameNode's namespace lock

  httplib::Server nn, dn;
  auto path_of = [&](const httplib::Request& req) {
    return fs::path(root) / fs::path(req.matches[1].str()).relative_path();
  };
  nn.set_keep_alive_timeout(1);  // a prompt stop: idle keep-alive connections are not waited on for long
  dn.set_keep_alive_timeout(1);
  std::atomic<bool> outage{false};
  std::atomic<long> outage_requests{0};
  const auto in_outage = [&](const httplib::Request&, httplib::Response& res) {
    if (!outage.load()) return httplib::Server::HandlerResponse::Unhandled;
    if (outage_requests.fetch_add(1) % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms));
    remote_exception(res, 500, "IOException", "the cluster is unavailable (test double: outage)");
    return httplib::Server::HandlerResponse::Handled;
  };
  nn.set_pre_routing_handler(in_outage);
  dn.set_pre_routing_handler(in_outage);
  const int dn_port = dn.bind_to_any_port(bind);
  const int nn_port = nn.bind_to_any_port(bind);

  auto namenode = [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    const std::string op = req.get_param_value("op");
    const std::string hdfs_path = "/" + fs::path(req.matches[1].str()).relative_path().string();
    const fs::path p = path_of(req);
    if (require_user && !req.has_param("user.name"))
      return remote_exception(res, 403, "AccessControlException", "user.name is required");
    auto redirect = [&] {
      res.status = 307;
      res.set_header("Location", "http://" + bind + ":" + std::to_string(dn_port) + "/datanode/v1" + hdfs_path +
                                     "?op=" + op + "&overwrite=" + req.get_param_value("overwrite") +
                                     "&user.name=" + req.get_param_value("user.name"));
    };
    if (op == "MKDIRS" && req.method == "PUT") {
      std::error_code ec;
      fs::create_directories(p, ec);
      res.set_content(std::string(R"({"boolean":)") + (ec ? "false" : "true") + "}", "application/json");
    } else if (op == "CREATE" && req.method == "PUT") {
      if (fs::exists(p) && req.get_param_value("overwrite") != "true")
        return remote_exception(res, 403, "FileAlreadyExistsException", hdfs_path + " already exists");
      if (!fs::is_directory(p.parent_path())) fs::create_directories(p.parent_path());
      redirect();
    } else if (op == "APPEND" && req.method == "POST") {
      if (!fs::is_regular_file(p))
        return remote_exception(res, 404, "FileNotFoundException", "File does not exist: " + hdfs_path);
      redirect();
    } else if (op == "OPEN" && req.method == "GET") {
      if (!fs::is_regular_file(p))
        return remote_exception(res, 404, "FileNotFoundException", "File does not exist: " + hdfs_path);
      redirect();
    } else if (op == "RENAME" && req.method == "PUT") {
      const fs::path to = fs::path(root) / fs::path(req.get_param_value("destination")).relative_path();
      bool ok = fs::exists(p) && !fs::exists(to) && fs::is_directory(to.parent_path());
      if (ok) fs::rename(p, to);
      res.set_content(std::string(R"({"boolean":)") + (ok ? "true" : "false") + "}", "application/json");
    } else if (op == "LISTSTATUS" && req.method == "GET") {
      if (!fs::exists(p))
        return remote_exception(res, 404, "FileNotFoundException", "File " + hdfs_path + " does not exist.");
      std::string out = R"({"FileStatuses":{"FileStatus":[)";
      bool first = true;
      for (const auto& e : fs::directory_iterator(p)) {
        out += (first ? "" : ",") + file_status_json(e.path(), e.path().filename().string());
        first = false;
      }
      res.set_content(out + "]}}", "application/json");
    } else if (op == "GETFILESTATUS" && req.method == "GET") {
      if (!fs::exists(p))
        return remote_exception(res, 404, "FileNotFoundException", "File does not exist: " + hdfs_path);
      res.set_content(R"({"FileStatus":)" + file_status_json(p, "") + "}", "application/json");
    } else if (op == "DELETE" && req.method == "DELETE") {
      std::error_code ec;
      bool existed = fs::exists(p);
      if (existed && fs::is_directory(p) && req.get_param_value("recursive") != "true" && !fs::is_empty(p))
        return remote_exception(res, 403, "PathIsNotEmptyDirectoryException", hdfs_path + " is non empty");
      fs::remove_all(p, ec);
      res.set_content(std::string(R"({"boolean":)") + (existed && !ec ? "true" : "false") + "}", "application/json");
    } else {
      remote_exception(res, 400, "IllegalArgumentException", "Invalid value for webhdfs parameter \"op\": " + op);
    }
  };
  nn.Put(R"(/webhdfs/v1(/.*))", namenode);
  nn.Post(R"(/webhdfs/v1(/.*))", namenode);
  nn.Get(R"(/webhdfs/v1(/.*))", namenode);
  nn.Delete(R"(/webhdfs/v1(/.*))", namenode);

  auto datanode = [&](const httplib::Request& req, httplib::Response& res) {
    const fs::path p = path_of(req);
    const std::string op = req.get_param_value("op");
    if (op != "OPEN" && failures_left.fetch_sub(1) > 0)
      return remote_exception(res, 500, "IOException", "DataNode write pipeline failed (test double: injected)");
    std::lock_guard lock(mu);
    if (op == "CREATE") {
      std::ofstream(p, std::ios::binary | std::ios::trunc) << req.body;
      res.status = 201;
      res.set_header("Location", "hdfs://" + req.matches[1].str());
    } else if (op == "APPEND") {
      std::ofstream(p, std::ios::binary | std::ios::app) << req.body;
      res.status = 200;
    } else if (op == "OPEN") {
      std::ifstream in(p, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      res.set_content(data, "application/octet-stream");
    } else {
      remote_exception(res, 400, "IllegalArgumentException", "bad DataNode op " + op);
    }
  };
  dn.Put(R"(/datanode/v1(/.*))", datanode);
  dn.Post(R"(/datanode/v1(/.*))", datanode);
  dn.Get(R"(/datanode/v1(/.*))", datanode);

  sigset_t set;  // blocked before the server threads start, so they inherit it
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread dn_thread([&] { dn.listen_after_bind(); });
  std::thread nn_thread([&] { nn.listen_after_bind(); });
  std::cout << "namenode " << bind << ":" << nn_port << std::endl;
  for (int sig = 0; sigwait(&set, &sig) == 0 && sig == SIGUSR1;) {
    outage.store(!outage.load());
    std::cerr << (outage.load() ? "outage: every request fails or hangs\n" : "outage over\n");
  }
  nn.stop();
  dn.stop();
  nn_thread.join();
  dn_thread.join();
  return 0;
}
