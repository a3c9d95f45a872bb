// One Avro object container file being written by hdfs-sink (format:
// avro), through libavro (avro-c): the header, blocks, codec and sync
// markers are libavro's. libavro writes to a FILE*; here that FILE* is a
// fopencookie stream appending to a std::string that the sink owns, so the
// bytes go to the store the same way as JSON Lines (create, then appends)
// and work on WebHDFS too. Each flush() ends the current block.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace ctk::hdfs {

// The schema: the envelope's fields, `data` as the JSON text it is on the topic.
extern const char* const avro_envelope_schema;

class avro_schema;  // parsed once per sink

std::shared_ptr<avro_schema> make_avro_schema(std::string& err);

class avro_file {
 public:
  // Writes the header into *out at once. nullptr + err on failure.
  static std::unique_ptr<avro_file> create(std::shared_ptr<avro_schema> schema, const std::string& codec,
                                           std::size_t block_bytes, std::string* out, std::string& err);
  ~avro_file();  // closes the writer (the last block goes to *out)
  avro_file(const avro_file&) = delete;
  avro_file& operator=(const avro_file&) = delete;

  // Appends one envelope (JSON text). false + err: the record is not an
  // envelope this schema holds, or larger than a block (nothing written).
  bool append(std::string_view envelope_json, std::string& err);
  // Ends the current block; its bytes are in *out afterwards.
  bool flush(std::string& err);

 private:
  avro_file() = default;
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace ctk::hdfs
