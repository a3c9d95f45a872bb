#include "actors/hdfs_sink/store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

namespace ctk::hdfs {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------- file://

class local_store final : public store {
 public:
  explicit local_store(fs::path root) : root_(std::move(root)) {}
  ~local_store() override { close_all(); }
  std::string describe() const override { return "file://" + root_.string(); }

  bool mkdirs(const std::string& path, error& err) override {
    std::error_code ec;
    fs::create_directories(at(path), ec);
    return ok(ec, "MKDIRS", path, err);
  }

  bool create(const std::string& path, std::string_view data, bool overwrite, error& err) override {
    const int fd = ::open(at(path).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL), 0644);
    if (fd < 0) return sys_fail("CREATE", path, err);
    const bool written = write_all(fd, data);
    const int e = errno;
    ::close(fd);
    errno = e;
    return written || sys_fail("CREATE", path, err);
  }

  bool append(const std::string& path, std::string_view data, error& err) override {
    // Files being appended to stay open (a sink appends to each open file
    // once per batch); closed on rename/remove, or when too many are open.
    auto it = fds_.find(path);
    if (it == fds_.end()) {
      if (fds_.size() >= 256) close_all();
      const int fd = ::open(at(path).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd < 0) return sys_fail("APPEND", path, err);
      it = fds_.emplace(path, fd).first;
    }
    if (write_all(it->second, data)) return true;
    sys_fail("APPEND", path, err);
    close_cached(path);
    return false;
  }

  void start_sync(const std::string& path, std::int64_t offset, std::int64_t bytes) override {
    if (auto it = fds_.find(path); it != fds_.end())
      ::sync_file_range(it->second, offset, bytes, SYNC_FILE_RANGE_WRITE);
  }

  // Files and folders alike.
  bool sync(const std::string& path, error& err) override {
    if (auto it = fds_.find(path); it != fds_.end()) {
      return ::fsync(it->second) == 0 || sys_fail("SYNC", path, err);
    }
    const int fd = ::open(at(path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_fail("SYNC", path, err);
    const bool synced = ::fsync(fd) == 0;
    const int e = errno;
    ::close(fd);
    errno = e;
    return synced || sys_fail("SYNC", path, err);
  }

  bool rename(const std::string& from, const std::string& to, error& err) override {
    // renameat2(RENAME_NOREPLACE): like HDFS, never replace the destination.
    if (::renameat2(AT_FDCWD, at(from).c_str(), AT_FDCWD, at(to).c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) {
        err = {};
        return false;
      }
      return sys_fail("RENAME", from + " -> " + to, err);
    }
    close_cached(from);
    return true;  // durable once the caller syncs the folder
  }

  std::optional<std::vector<file_status>> list(const std::string& dir, error& err) override {
    std::error_code ec;
    std::vector<file_status> out;
    for (fs::directory_iterator it(at(dir), ec), end; !ec && it != end; it.increment(ec)) {
      file_status s;
      s.name = it->path().filename().string();
      s.directory = it->is_directory(ec);
      if (!s.directory) s.length = static_cast<std::int64_t>(it->file_size(ec));
      if (ec) break;
      out.push_back(std::move(s));
    }
    if (!ok(ec, "LISTSTATUS", dir, err)) return std::nullopt;
    return out;
  }

  std::optional<file_status> status(const std::string& path, error& err) override {
    struct stat st {};
    if (::stat(at(path).c_str(), &st) != 0) {
      sys_fail("GETFILESTATUS", path, err);
      return std::nullopt;
    }
    return file_status{fs::path(path).filename().string(), S_ISDIR(st.st_mode), static_cast<std::int64_t>(st.st_size)};
  }

  void prefetch(const std::string& path) override {
    const int fd = ::open(at(path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // read_into() will say why
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    ::close(fd);
  }

  bool read_into(const std::string& path, std::string& out, error& err) override {
    const int fd = ::open(at(path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      sys_fail("OPEN", path, err);
      return false;
    }
    // Sized once from fstat and read in place (it was appended 64 KiB at a
    // time: a 70 MB file was copied again at every doubling); a file that
    // grows meanwhile is read to its end all the same. The 4 KiB to spare
    // let a parser pad the bytes without moving them.
    struct stat st {};
    out.resize(::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 4096 : 65536);
    std::size_t have = 0;
    for (;;) {
      if (have == out.size()) out.resize(out.size() * 2);
      const ssize_t n = ::read(fd, out.data() + have, out.size() - have);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        sys_fail("OPEN", path, err);
        ::close(fd);
        return false;
      }
      if (n == 0) break;
      have += static_cast<std::size_t>(n);
    }
    out.resize(have);
    ::close(fd);
    return true;
  }

  bool remove(const std::string& path, bool recursive, error& err) override {
    if (recursive)
      close_all();
    else
      close_cached(path);
    std::error_code ec;
    if (recursive)
      fs::remove_all(at(path), ec);
    else
      fs::remove(at(path), ec);
    return ok(ec, "DELETE", path, err);
  }

 private:
  fs::path at(const std::string& path) const { return root_ / fs::path(path).relative_path(); }
  void close_cached(const std::string& path) {
    if (auto it = fds_.find(path); it != fds_.end()) {
      ::close(it->second);
      fds_.erase(it);
    }
  }
  void close_all() {
    for (const auto& [p, fd] : fds_) ::close(fd);
    fds_.clear();
  }
  static bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool sys_fail(const char* op, const std::string& path, error& err) const {
    err.missing = errno == ENOENT;
    err.message = std::string(op) + " " + describe() + path + ": " + std::strerror(errno);
    return false;
  }
  bool ok(const std::error_code& ec, const char* op, const std::string& path, error& err) const {
    if (!ec) return true;
    err.missing = ec == std::errc::no_such_file_or_directory;
    err.message = std::string(op) + " " + describe() + path + ": " + ec.message();
    return false;
  }
  fs::path root_;
  std::map<std::string, int> fds_;  // open for appending
};

// ---------------------------------------------------------------- WebHDFS

struct http_result {
  CURLcode curl = CURLE_OK;
  long status = 0;
  std::string body;
  std::string location;
  bool sent_body = false;  // the request body may have reached the server
};

size_t on_body(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

size_t on_header(char* p, size_t size, size_t n, void* ud) {
  std::string_view h(p, size * n);
  if (h.size() > 9 && (h.substr(0, 9) == "Location:" || h.substr(0, 9) == "location:")) {
    h.remove_prefix(9);
    while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
    while (!h.empty() && (h.back() == '\r' || h.back() == '\n' || h.back() == ' ')) h.remove_suffix(1);
    *static_cast<std::string*>(ud) = std::string(h);
  }
  return size * n;
}

class webhdfs_store final : public store {
 public:
  webhdfs_store(std::string endpoint, std::string base, store_options o)
      : endpoint_(std::move(endpoint)), base_(std::move(base)), o_(std::move(o)), curl_(curl_easy_init()) {}
  ~webhdfs_store() override { curl_easy_cleanup(curl_); }

  std::string describe() const override { return "webhdfs://" + endpoint_ + base_; }

  bool mkdirs(const std::string& path, error& err) override {
    if (boolean_op("PUT", path, "MKDIRS", "", err)) return true;
    if (err.message.empty()) err.message = "MKDIRS " + describe() + path + ": the NameNode answered false";
    return false;
  }

  bool create(const std::string& path, std::string_view data, bool overwrite, error& err) override {
    return two_step("PUT", path, std::string("CREATE&overwrite=") + (overwrite ? "true" : "false"), data, 201, err);
  }

  bool append(const std::string& path, std::string_view data, error& err) override {
    return two_step("POST", path, "APPEND", data, 200, err);
  }

  bool sync(const std::string&, error&) override { return true; }

  bool rename(const std::string& from, const std::string& to, error& err) override {
    err = {};
    return boolean_op("PUT", from, "RENAME&destination=" + escape(base_ + to), "", err);
  }

  std::optional<std::vector<file_status>> list(const std::string& dir, error& err) override {
    http_result r;
    if (!call("GET", url(dir, "LISTSTATUS"), {}, false, r, err)) return std::nullopt;
    if (r.status != 200) return fail_status("LISTSTATUS", dir, r, err), std::nullopt;
    simdjson::dom::parser p;
    simdjson::dom::array arr;
    if (p.parse(r.body).at_pointer("/FileStatuses/FileStatus").get_array().get(arr)) {
      err.message = "LISTSTATUS " + describe() + dir + ": unexpected reply " + r.body.substr(0, 200);
      return std::nullopt;
    }
    std::vector<file_status> out;
    for (auto e : arr) out.push_back(to_status(e));
    return out;
  }

  std::optional<file_status> status(const std::string& path, error& err) override {
    http_result r;
    if (!call("GET", url(path, "GETFILESTATUS"), {}, false, r, err)) return std::nullopt;
    if (r.status != 200) return fail_status("GETFILESTATUS", path, r, err), std::nullopt;
    simdjson::dom::parser p;
    simdjson::dom::element e;
    if (p.parse(r.body).at_pointer("/FileStatus").get(e)) {
      err.message = "GETFILESTATUS " + describe() + path + ": unexpected reply " + r.body.substr(0, 200);
      return std::nullopt;
    }
    auto s = to_status(e);
    s.name = std::filesystem::path(path).filename().string();
    return s;
  }

  bool read_into(const std::string& path, std::string& out, error& err) override {
    http_result r;
    if (!call("GET", url(path, "OPEN"), {}, false, r, err)) return false;
    if (r.status == 307 && !r.location.empty()) {
      const std::string loc = r.location;
      if (!call("GET", loc, {}, false, r, err)) return false;
    }
    if (r.status != 200) return fail_status("OPEN", path, r, err), false;
    out = std::move(r.body);
    return true;
  }

  bool remove(const std::string& path, bool recursive, error& err) override {
    http_result r;
    if (!call("DELETE", url(path, std::string("DELETE&recursive=") + (recursive ? "true" : "false")), {}, false, r,
              err))
      return false;
    if (r.status != 200) return fail_status("DELETE", path, r, err);
    return true;  // {"boolean": false} means it did not exist
  }

 private:
  static file_status to_status(simdjson::dom::element e) {
    file_status s;
    std::string_view v;
    if (!e["pathSuffix"].get(v)) s.name = std::string(v);
    if (!e["type"].get(v)) s.directory = v == "DIRECTORY";
    std::int64_t len = 0;
    if (!e["length"].get(len)) s.length = len;
    return s;
  }

  std::string escape(const std::string& s) {
    char* e = curl_easy_escape(curl_, s.c_str(), static_cast<int>(s.size()));
    std::string out(e);
    curl_free(e);
    // Keep the slashes readable; WebHDFS accepts both.
    for (std::size_t p; (p = out.find("%2F")) != std::string::npos;) out.replace(p, 3, "/");
    return out;
  }

  std::string url(const std::string& path, const std::string& op) {
    return "http://" + endpoint_ + "/webhdfs/v1" + escape(base_ + path) + "?op=" + op + "&user.name=" + escape(o_.user);
  }

  // MKDIRS / RENAME: 200 with {"boolean": true|false}.
  bool boolean_op(const char* method, const std::string& path, const std::string& op, std::string_view data,
                  error& err) {
    http_result r;
    if (!call(method, url(path, op), data, false, r, err)) return false;
    if (r.status != 200) return fail_status(op.substr(0, op.find('&')).c_str(), path, r, err);
    simdjson::dom::parser p;
    bool b = false;
    if (p.parse(r.body)["boolean"].get(b)) {
      err.message = op + " " + describe() + path + ": unexpected reply " + r.body.substr(0, 200);
      return false;
    }
    return b;
  }

  // CREATE / APPEND: the NameNode answers 307 with the DataNode's Location,
  // the data goes there (Hadoop WebHDFS REST, "Create and Write to a File").
  bool two_step(const char* method, const std::string& path, const std::string& op, std::string_view data, long expect,
                error& err) {
    const char* name = op.starts_with("CREATE") ? "CREATE" : "APPEND";
    for (int attempt = 0;; ++attempt) {
      http_result r;
      if (!call(method, url(path, op), {}, false, r, err)) return false;
      if (r.status != 307 || r.location.empty()) return fail_status(name, path, r, err);
      const std::string loc = r.location;
      // One try here: call() retries only failures where nothing was sent.
      error derr;
      if (call(method, loc, data, true, r, derr) && r.status == expect) return true;
      const bool refused = derr.message.empty() && r.status >= 500;  // the DataNode answered with an error
      if (!derr.message.empty())
        err = derr;
      else
        fail_status(name, path, r, err);
      // A DataNode that answered 5xx wrote nothing: ask the NameNode again
      // (it may name another DataNode). Anything ambiguous is the caller's.
      if (!refused || attempt >= o_.retries) return false;
      spdlog::warn("{} (DataNode), retrying ({}/{})", err.message, attempt + 1, o_.retries);
      backoff(attempt);
    }
  }

  void backoff(int attempt) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    const int base = std::min(100 << std::min(attempt, 6), 5000);
    std::uniform_int_distribution<int> jitter(base / 2, base);
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
  }

  // One HTTP exchange (redirects not followed), retried with backoff on
  // connection failures that cannot have delivered a body, and on 503.
  bool call(const char* method, const std::string& u, std::string_view body, bool with_body, http_result& r,
            error& err) {
    for (int attempt = 0;; ++attempt) {
      r = {};
      curl_easy_reset(curl_);
      curl_easy_setopt(curl_, CURLOPT_URL, u.c_str());
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method);
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout_ms));
      curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(o_.timeout_ms, 10'000)));
      curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
      curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
      curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.location);
      curl_slist* headers = nullptr;
      if (with_body || std::string_view(method) != "GET") {
        headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      }
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
      r.curl = curl_easy_perform(curl_);
      curl_slist_free_all(headers);
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
      if (r.curl == CURLE_OK && r.status != 503) return true;
      const bool nothing_sent = r.curl == CURLE_COULDNT_CONNECT || r.curl == CURLE_COULDNT_RESOLVE_HOST ||
                                (r.curl == CURLE_OK && r.status == 503);
      const bool idempotent = !with_body;  // the NameNode steps and reads are safe to repeat
      if (r.curl != CURLE_OK)
        err.message = std::string(method) + " " + u.substr(0, u.find("&user.name")) + ": " + curl_easy_strerror(r.curl);
      else
        err.message = std::string(method) + " " + u.substr(0, u.find("&user.name")) + ": HTTP 503";
      if (!(nothing_sent || idempotent) || attempt >= o_.retries) {
        r.sent_body = with_body && !nothing_sent;
        return r.curl == CURLE_OK;  // a 503 is returned to the caller as a status
      }
      spdlog::warn("{}; retrying ({}/{})", err.message, attempt + 1, o_.retries);
      backoff(attempt);
    }
  }

  // Non-success status: decode {"RemoteException": {exception, message}}.
  bool fail_status(const char* op, const std::string& path, const http_result& r, error& err) {
    std::string ex, msg;
    simdjson::dom::parser p;
    simdjson::dom::element re;
    if (!p.parse(r.body).at_pointer("/RemoteException").get(re)) {
      std::string_view v;
      if (!re["exception"].get(v)) ex = std::string(v);
      if (!re["message"].get(v)) msg = std::string(v);
    }
    err.missing = ex == "FileNotFoundException" || (ex.empty() && r.status == 404);
    err.message = std::string(op) + " " + describe() + path + ": HTTP " + std::to_string(r.status) +
                  (ex.empty() ? (r.body.empty() ? "" : " " + r.body.substr(0, 200)) : " " + ex + ": " + msg);
    return false;
  }

  std::string endpoint_, base_;
  store_options o_;
  CURL* curl_;
};

}  // namespace

std::unique_ptr<store> make_store(const std::string& url, const store_options& o, std::string& err) {
  if (url.starts_with("file://")) {
    std::string path = url.substr(7);
    if (path.empty()) {
      err = "hdfs.url: file:// needs a folder (file://var/hdfs, file:///srv/hdfs)";
      return nullptr;
    }
    return std::make_unique<local_store>(fs::absolute(path).lexically_normal());
  }
  if (url.starts_with("webhdfs://")) {
    std::string rest = url.substr(10);
    const auto slash = rest.find('/');
    std::string endpoint = rest.substr(0, slash), base = slash == std::string::npos ? "" : rest.substr(slash);
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (endpoint.empty() || endpoint.find(':') == std::string::npos) {
      err = "hdfs.url: webhdfs://HOST:PORT[/BASE] expected, got " + url;
      return nullptr;
    }
    return std::make_unique<webhdfs_store>(endpoint, base, o);
  }
  err = "hdfs.url: '" + url + "' must start with file:// or webhdfs://";
  return nullptr;
}

}  // namespace ctk::hdfs
