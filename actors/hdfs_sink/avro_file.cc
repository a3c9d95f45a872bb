#include "actors/hdfs_sink/avro_file.h"

#include <avro.h>
#include <simdjson.h>

#include <cstdio>
#include <cstring>

namespace ctk::hdfs {

const char* const avro_envelope_schema = R"({
  "type": "record", "name": "envelope", "namespace": "cointicker",
  "doc": "One record of the unique topic: the envelope, its data as JSON text.",
  "fields": [
    {"name": "v", "type": "long"},
    {"name": "id", "type": "string"},
    {"name": "source", "type": "string"},
    {"name": "kind", "type": "string"},
    {"name": "fetched_at", "type": "string"},
    {"name": "url", "type": "string", "default": ""},
    {"name": "trace", "type": "string", "default": ""},
    {"name": "data", "type": "string", "doc": "the kind's fields: the JSON object as it is on the topic"}
  ]})";

class avro_schema {
 public:
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  ~avro_schema() {
    if (iface) avro_value_iface_decref(iface);
    if (schema) avro_schema_decref(schema);
  }
};

std::shared_ptr<avro_schema> make_avro_schema(std::string& err) {
  auto s = std::make_shared<avro_schema>();
  if (avro_schema_from_json_length(avro_envelope_schema, std::strlen(avro_envelope_schema), &s->schema)) {
    err = std::string("avro schema: ") + avro_strerror();
    return nullptr;
  }
  s->iface = avro_generic_class_from_schema(s->schema);
  if (!s->iface) {
    err = std::string("avro schema: ") + avro_strerror();
    return nullptr;
  }
  return s;
}

namespace {
// fopencookie: the FILE* libavro writes to appends to a std::string.
ssize_t cookie_write(void* cookie, const char* buf, size_t size) {
  static_cast<std::string*>(cookie)->append(buf, size);
  return static_cast<ssize_t>(size);
}
}  // namespace

struct avro_file::impl {
  std::shared_ptr<avro_schema> schema;
  avro_file_writer_t writer = nullptr;
  avro_value_t value{};
  std::size_t block_bytes = 0;
  std::string field;  // NUL-terminated copy for avro_value_set_string_len
  simdjson::dom::parser parser;
};

std::unique_ptr<avro_file> avro_file::create(std::shared_ptr<avro_schema> schema, const std::string& codec,
                                             std::size_t block_bytes, std::string* out, std::string& err) {
  cookie_io_functions_t io{};
  io.write = cookie_write;
  FILE* fp = ::fopencookie(out, "w", io);
  if (!fp) {
    err = "avro: fopencookie failed";
    return nullptr;
  }
  std::unique_ptr<avro_file> f(new avro_file());
  f->p_ = std::make_unique<impl>();
  f->p_->schema = std::move(schema);
  f->p_->block_bytes = block_bytes;
  // should_close = 1: the writer owns fp from here, even on failure.
  if (avro_file_writer_create_with_codec_fp(fp, "hdfs-sink", 1, f->p_->schema->schema, &f->p_->writer, codec.c_str(),
                                            block_bytes)) {
    err = std::string("avro: cannot start a container file: ") + avro_strerror();
    f->p_->writer = nullptr;
    return nullptr;
  }
  if (avro_generic_value_new(f->p_->schema->iface, &f->p_->value)) {
    err = std::string("avro: ") + avro_strerror();
    return nullptr;
  }
  return f;
}

avro_file::~avro_file() {
  if (!p_) return;
  if (p_->value.self) avro_value_decref(&p_->value);
  if (p_->writer) avro_file_writer_close(p_->writer);
}

bool avro_file::append(std::string_view json, std::string& err) {
  simdjson::dom::element root;
  if (auto e = p_->parser.parse(json.data(), json.size()).get(root)) {
    err = std::string("not JSON: ") + simdjson::error_message(e);
    return false;
  }
  const auto set = [&](std::size_t index, std::string_view text) {
    avro_value_t f;
    p_->field.assign(text);
    return avro_value_get_by_index(&p_->value, index, &f, nullptr) == 0 &&
           avro_value_set_string_len(&f, p_->field.c_str(), p_->field.size() + 1) == 0;
  };
  std::int64_t v = 0;
  if (root["v"].get(v)) return err = "field v: not an integer", false;
  avro_value_t vf;
  if (avro_value_get_by_index(&p_->value, 0, &vf, nullptr) || avro_value_set_long(&vf, v))
    return err = std::string("avro: ") + avro_strerror(), false;
  static constexpr const char* names[] = {"id", "source", "kind", "fetched_at", "url", "trace"};
  for (std::size_t i = 0; i < 6; ++i) {
    std::string_view text;
    const bool optional = i >= 4;
    if (root[names[i]].get(text)) {
      if (!optional) return err = std::string("field ") + names[i] + ": missing or not a string", false;
      text = {};
    }
    if (!set(i + 1, text)) return err = std::string("avro: ") + avro_strerror(), false;
  }
  simdjson::dom::element data;
  if (root["data"].get(data)) return err = "field data: missing", false;
  if (!set(7, simdjson::minify(data))) return err = std::string("avro: ") + avro_strerror(), false;
  // A value larger than a block would leave a partial datum in libavro's
  // block buffer: refuse it before writing.
  std::size_t size = 0;
  if (avro_value_sizeof(&p_->value, &size) == 0 && size > p_->block_bytes)
    return err = "record of " + std::to_string(size) + " bytes is larger than an Avro block (hdfs.avro_block_bytes " +
                 std::to_string(p_->block_bytes) + ")",
           false;
  if (avro_file_writer_append_value(p_->writer, &p_->value))
    return err = std::string("avro: ") + avro_strerror(), false;
  return true;
}

bool avro_file::flush(std::string& err) {
  if (avro_file_writer_flush(p_->writer)) return err = std::string("avro: ") + avro_strerror(), false;
  return true;
}

}  // namespace ctk::hdfs
