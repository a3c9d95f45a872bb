// Where hdfs-sink writes: WebHDFS over libcurl, or a local folder with the
// same layout (file://, the embedded default). Paths are absolute inside
// the store ("/raw/upbit/20261128/...").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.h"

namespace ctk::hdfs {

struct file_status {
  std::string name;  // last path component (WebHDFS pathSuffix)
  bool directory = false;
  std::int64_t length = 0;
};

// Every call returns false / nullopt on failure with a message in `err`
// naming the operation, the path and the server's RemoteException.
// `missing` is set when the failure is "no such file or directory".
struct error {
  std::string message;
  bool missing = false;
};

class store {
 public:
  virtual ~store() = default;
  virtual std::string describe() const = 0;  // "file:///abs/root" or "webhdfs://host:port/base"
  virtual bool mkdirs(const std::string& path, error& err) = 0;
  // Creates (or with overwrite, replaces) a file holding `data`.
  virtual bool create(const std::string& path, std::string_view data, bool overwrite, error& err) = 0;
  virtual bool append(const std::string& path, std::string_view data, error& err) = 0;
  // Makes the file's bytes durable (file://: fsync; WebHDFS: the DataNode
  // pipeline has acknowledged them when APPEND returned, so nothing).
  virtual bool sync(const std::string& path, error& err) = 0;
  // Starts writing the file back without waiting (file://), so that the
  // sync() of several files that follows overlaps their I/O. A hint.
  virtual void start_sync(const std::string& /*path*/, std::int64_t /*offset*/ = 0, std::int64_t /*bytes*/ = 0) {}
  // Starts reading the file into memory without waiting (file://: the page
  // cache), so that a read_into() that follows finds it there. A hint.
  virtual void prefetch(const std::string& /*path*/) {}
  // Fails (false, err.message empty) when `to` exists: never replaces.
  virtual bool rename(const std::string& from, const std::string& to, error& err) = 0;
  virtual std::optional<std::vector<file_status>> list(const std::string& dir, error& err) = 0;
  virtual std::optional<file_status> status(const std::string& path, error& err) = 0;
  // The whole file into `into` (replaced; its capacity reused, so a caller
  // reading many large files can keep one buffer instead of faulting in new
  // memory for each).
  virtual bool read_into(const std::string& path, std::string& into, error& err) = 0;
  std::optional<std::string> read(const std::string& path, error& err) {
    std::string out;
    if (!read_into(path, out, err)) return std::nullopt;
    return out;
  }
  // Removing a path that does not exist succeeds.
  virtual bool remove(const std::string& path, bool recursive, error& err) = 0;
};

struct store_options {
  std::string user = "cointicker";
  int timeout_ms = 30'000;
  int retries = 4;
};

// From hdfs.url: file://PATH (relative to the working directory unless it
// starts with /) or webhdfs://HOST:PORT[/BASE]. nullptr + err on a bad URL.
std::unique_ptr<store> make_store(const std::string& url, const store_options& o, std::string& err);

}  // namespace ctk::hdfs
