// Reading back what hdfs-sink committed: final files under ROOT/raw, their
// names parsed, their lines counted.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "actors/hdfs_sink/hdfs_sink.h"

namespace ctk::test {

struct hdfs_contents {
  long lines = 0;
  std::map<std::string, int> ids;  // record id → times seen
  std::vector<std::string> bad_names;
  std::vector<std::string> folders;  // raw/{source}/{day}
  long tmp_files = 0;                // files left under _tmp and _wal
};

inline hdfs_contents read_hdfs_once(const std::string& root) {
  namespace fs = std::filesystem;
  hdfs_contents c;
  if (fs::exists(root + "/raw"))
    for (const auto& e : fs::recursive_directory_iterator(root + "/raw")) {
      if (e.is_directory()) {
        const std::string rel = e.path().string().substr(root.size() + 1);
        if (std::count(rel.begin(), rel.end(), '/') == 2) c.folders.push_back(rel);
        continue;
      }
      const std::string name = e.path().filename().string();
      if (!ctk::hdfs::parse_final_name(name)) c.bad_names.push_back(name);
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) {
        ++c.lines;
        const auto p = line.find(R"("id":")");
        if (p != std::string::npos) ++c.ids[line.substr(p + 6, 32)];
      }
    }
  for (const char* d : {"/_tmp", "/_wal"})
    if (fs::exists(root + d))
      for (const auto& e : fs::recursive_directory_iterator(root + d)) c.tmp_files += e.is_regular_file();
  return c;
}

// Tests poll the folder while a sink is running: a file renamed or deleted
// under a directory walk throws; the walk is then taken again (a snapshot
// taken while nothing moved). Caught by CI, where it failed a test; every
// walk of a live sink's folder goes through this.
template <class Walk>
auto retry_walk(Walk walk) {
  for (int attempt = 0;; ++attempt) {
    try {
      return walk();
    } catch (const std::filesystem::filesystem_error&) {
      if (attempt >= 50) throw;
    }
  }
}

inline hdfs_contents read_hdfs(const std::string& root) {
  return retry_walk([&] { return read_hdfs_once(root); });
}

}  // namespace ctk::test
