#include "actors/hdfs_sink/inventory.h"

#include <avro.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <set>

namespace ctk::hdfs {

namespace {

void ids_of_jsonl(const std::string& path, const std::string& bytes, std::set<std::string>& ids, day_counts& out) {
  simdjson::dom::parser parser;
  std::size_t start = 0, line = 0;
  while (start < bytes.size()) {
    std::size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    ++line;
    std::string_view id;
    simdjson::dom::element root;
    if (end > start && (parser.parse(bytes.data() + start, end - start).get(root) || root["id"].get(id)))
      out.problems.push_back(path + ":" + std::to_string(line) + ": not an envelope with an id");
    else if (end > start)
      ids.insert(std::string(id));
    start = end + 1;
  }
}

// libavro reads container files from a path: the bytes go to a temporary file.
void ids_of_avro(const std::string& path, const std::string& bytes, std::set<std::string>& ids, day_counts& out) {
  char tmp[] = "/tmp/ctk-inventory-XXXXXX";
  const int fd = ::mkstemp(tmp);
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    out.problems.push_back(path + ": cannot stage it for reading");
    if (fd >= 0) ::close(fd), ::unlink(tmp);
    return;
  }
  ::close(fd);
  avro_file_reader_t r;
  if (avro_file_reader(tmp, &r)) {
    out.problems.push_back(path + ": " + avro_strerror());
    ::unlink(tmp);
    return;
  }
  avro_value_iface_t* iface = avro_generic_class_from_schema(avro_file_reader_get_writer_schema(r));
  avro_value_t v;
  avro_generic_value_new(iface, &v);
  while (avro_file_reader_read_value(r, &v) == 0) {
    avro_value_t f;
    const char* s = nullptr;
    size_t n = 0;
    if (avro_value_get_by_name(&v, "id", &f, nullptr) == 0 && avro_value_get_string(&f, &s, &n) == 0)
      ids.insert(std::string(s, n ? n - 1 : 0));
  }
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_file_reader_close(r);
  ::unlink(tmp);
}

}  // namespace

namespace {

using id_sets = std::map<std::pair<std::string, std::string>, std::set<std::string>>;

void read_ids(store& s, const std::string& path, std::set<std::string>& ids, day_counts& out) {
  error e;
  auto bytes = s.read(path, e);
  if (!bytes) {
    out.problems.push_back(e.message);
    return;
  }
  (path.find(".jsonl") != std::string::npos ? ids_of_jsonl : ids_of_avro)(path, *bytes, ids, out);
}

bool record_file(const file_status& f) {
  return !f.directory && (f.name.find(".jsonl") != std::string::npos || f.name.find(".avro") != std::string::npos);
}

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
