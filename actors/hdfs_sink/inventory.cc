#include "actors/hdfs_sink/inventory.h"

#include <simdjson.h>

#include <set>

#include "actors/hdfs_sink/records.h"

namespace ctk::hdfs {

namespace {

using id_sets = std::map<std::pair<std::string, std::string>, std::set<std::string>>;

void read_ids(store& s, const std::string& path, std::set<std::string>& ids, day_counts& out) {
  error e;
  auto bytes = s.read(path, e);
  if (!bytes) {
    out.problems.push_back(e.message);
    return;
  }
  simdjson::dom::parser parser;
  std::string err;
  const bool ok = for_each_record(
      path, *bytes,
      [&](std::string_view json, std::int64_t n) {
        simdjson::dom::element root;
        std::string_view id;
        if (parser.parse(json.data(), json.size()).get(root) || root["id"].get(id))
          out.problems.push_back(path + ":" + std::to_string(n) + ": not an envelope with an id");
        else
          ids.insert(std::string(id));
      },
      err);
  if (!ok) out.problems.push_back(err);
}

bool record_file(const file_status& f) { return !f.directory && is_record_file(f.name); }

// Committed files: /raw/{source}/{yyyymmdd}/….
void committed(store& s, const std::vector<file_status>& sources, const std::string& day, id_sets& ids,
               day_counts& out) {
  error e;
  for (const auto& src : sources) {
    if (!src.directory) continue;
    for (const auto& d : s.list("/raw/" + src.name, e).value_or(std::vector<file_status>{})) {
      if (!d.directory || (!day.empty() && d.name != day)) continue;
      const std::string dir = "/raw/" + src.name + "/" + d.name;
      auto& set = ids[{src.name, d.name}];
      for (const auto& f : s.list(dir, e).value_or(std::vector<file_status>{}))
        if (record_file(f)) ++out.files, read_ids(s, dir + "/" + f.name, set, out);
    }
  }
}

// Open files: /_tmp/{topic}+{partition}/{source}+{yyyymmdd}+{nonce}.….
void open_files(store& s, const std::string& day, id_sets& ids, day_counts& out) {
  error e;
  for (const auto& part : s.list("/_tmp", e).value_or(std::vector<file_status>{})) {
    if (!part.directory) continue;
    const std::string dir = "/_tmp/" + part.name;
    for (const auto& f : s.list(dir, e).value_or(std::vector<file_status>{})) {
      const auto a = f.name.find('+'), b = a == std::string::npos ? a : f.name.find('+', a + 1);
      if (!record_file(f) || b == std::string::npos) continue;
      const std::string source = f.name.substr(0, a), d = f.name.substr(a + 1, b - a - 1);
      if (!day.empty() && d != day) continue;
      ++out.open_files;
      read_ids(s, dir + "/" + f.name, ids[{source, d}], out);
    }
  }
}

}  // namespace

bool count_ids(store& s, const std::string& day, day_counts& out, std::string& err) {
  error e;
  auto sources = s.list("/raw", e);
  if (!sources && !e.missing) {
    err = e.message;
    return false;
  }
  id_sets ids;
  committed(s, sources.value_or(std::vector<file_status>{}), day, ids, out);
  open_files(s, day, ids, out);
  for (const auto& [key, set] : ids) out.ids[key] = static_cast<std::int64_t>(set.size());
  return true;
}

}  // namespace ctk::hdfs
