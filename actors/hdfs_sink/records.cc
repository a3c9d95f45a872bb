#include "actors/hdfs_sink/records.h"

#include <avro.h>

#include <cstdio>

#include "messages/envelope.h"
#include "messages/json.h"

namespace ctk::hdfs {

namespace {

bool ends_with(std::string_view s, std::string_view end) {
  return s.size() >= end.size() && s.substr(s.size() - end.size()) == end;
}

void for_each_line(std::string_view bytes, const record_fn& each) {
  std::size_t start = 0;
  std::int64_t line = 0;
  while (start < bytes.size()) {
    std::size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    ++line;
    if (end > start) each(bytes.substr(start, end - start), line);
    start = end + 1;
  }
}

std::string string_field(avro_value_t& record, const char* name) {
  avro_value_t f;
  const char* s = nullptr;
  size_t n = 0;
  if (avro_value_get_by_name(&record, name, &f, nullptr) || avro_value_get_string(&f, &s, &n) || !s) return {};
  return std::string(s, n ? n - 1 : 0);  // n counts the NUL
}

// The envelope of one Avro record (actors/hdfs_sink/avro_file.cc's schema).
msg::envelope envelope_of(avro_value_t& record) {
  msg::envelope e;
  avro_value_t f;
  int64_t v = 0;
  if (avro_value_get_by_name(&record, "v", &f, nullptr) == 0 && avro_value_get_long(&f, &v) == 0) e.v = v;
  e.id = string_field(record, "id");
  e.source = string_field(record, "source");
  e.kind = string_field(record, "kind");
  e.fetched_at = string_field(record, "fetched_at");
  e.url = string_field(record, "url");
  e.trace = string_field(record, "trace");
  e.data.text = string_field(record, "data");
  return e;
}

// libavro reads a container file from a FILE*: an in-memory one here.
bool for_each_avro(const std::string& path, std::string_view bytes, const record_fn& each, std::string& err) {
  FILE* fp = ::fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  if (!fp) {
    err = path + ": cannot open it in memory";
    return false;
  }
  avro_file_reader_t r;
  if (avro_file_reader_fp(fp, path.c_str(), 1, &r)) {
    err = path + ": not an Avro container file (" + avro_strerror() + ")";
    return false;
  }
  avro_value_iface_t* iface = avro_generic_class_from_schema(avro_file_reader_get_writer_schema(r));
  avro_value_t v;
  avro_generic_value_new(iface, &v);
  std::int64_t n = 0;
  std::string json;
  int rc = 0;
  while ((rc = avro_file_reader_read_value(r, &v)) == 0) {
    msg::encode(envelope_of(v), json);
    each(json, ++n);
  }
  const bool ok = rc == EOF;
  if (!ok) err = path + ": record " + std::to_string(n + 1) + ": " + avro_strerror();
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_file_reader_close(r);
  return ok;
}

}  // namespace

bool is_record_file(std::string_view name) {
  return name.find(".jsonl") != std::string_view::npos || name.find(".avro") != std::string_view::npos;
}

bool for_each_record(const std::string& path, std::string_view bytes, const record_fn& each, std::string& err) {
  if (ends_with(path, ".avro")) return for_each_avro(path, bytes, each, err);
  for_each_line(bytes, each);
  return true;
}

}  // namespace ctk::hdfs
