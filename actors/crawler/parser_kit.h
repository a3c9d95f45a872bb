// What the source parsers share (internal to the crawler): a record's
// `data` writer, JSON and URL helpers, and each parser's entry point. One
// file per kind of source under parsers/; sources.cc lists them.
#pragma once

#include <libxml/tree.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "actors/crawler/sources.h"
#include "messages/envelope.h"
#include "messages/text.h"

namespace ctk::crawler::kit {

using simdjson::dom::element;

// A record's `data` object, written field by field. Strings are made
// valid UTF-8 (bad bytes become U+FFFD): libxml2's recover mode passes the
// bytes of a feed that lies about its encoding through as they are.
class data_writer {
 public:
  data_writer() { w_.StartObject(); }
  void str(std::string_view k, std::string_view v) {
    key(k);
    string(v);
  }
  void num(std::string_view k, double v) {
    key(k);
    w_.Double(v);
  }
  void integer(std::string_view k, std::int64_t v) {
    key(k);
    w_.Int64(v);
  }
  // Copies a JSON value as it is (the validator judges types); null is left out.
  void value(std::string_view k, element e) {
    switch (e.type()) {
      case simdjson::dom::element_type::NULL_VALUE:
        return;
      case simdjson::dom::element_type::STRING:
        return str(k, std::string_view(e.get_string().value_unsafe()));
      case simdjson::dom::element_type::INT64:
        return integer(k, e.get_int64().value_unsafe());
      case simdjson::dom::element_type::UINT64:
        key(k);
        w_.Uint64(e.get_uint64().value_unsafe());
        return;
      case simdjson::dom::element_type::DOUBLE:
        return num(k, e.get_double().value_unsafe());
      case simdjson::dom::element_type::BOOL:
        key(k);
        w_.Bool(e.get_bool().value_unsafe());
        return;
      default: {
        const std::string raw = simdjson::minify(e);
        key(k);
        w_.RawValue(raw.data(), raw.size(),
                    e.type() == simdjson::dom::element_type::ARRAY ? rapidjson::kArrayType : rapidjson::kObjectType);
      }
    }
  }
  void strings(std::string_view k, const std::vector<std::string>& v) {
    key(k);
    w_.StartArray();
    for (const auto& s : v) string(s);
    w_.EndArray();
  }
  std::string done() {
    w_.EndObject();
    return std::string(buf_.GetString(), buf_.GetSize());
  }

 private:
  void key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void string(std::string_view v) {
    if (msg::is_valid_utf8(v)) {
      w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    } else {
      const std::string fixed = text::valid_utf8(v);
      w_.String(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()));
    }
  }
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_{buf_};
};

// A field that is present and not null.
bool field(element obj, std::string_view k, element& out);
// A JSON value as text: strings as they are, integers printed; else "".
std::string text_of(element e);
std::string text_field(element obj, std::string_view k);
// Parses the page as JSON; false (and r.error set) if it is not JSON.
bool parse_json(const parser_context& c, const page& p, element& root, parse_result& r);
// The item array of an unofficial endpoint: the top level, or a wrapper
// field: unofficial endpoints change shape without notice, so both are
// accepted.
bool item_array(element root, std::initializer_list<std::string_view> wrappers, simdjson::dom::array& out,
                std::string& why);
std::string query_param(const std::string& url, std::string_view name);
std::string origin_of(const std::string& url);
std::string path_of(const std::string& url);
std::string resolve_url(const std::string& base, const std::string& rel);

// libxml2 (RSS, HTML): a node's text content; a document that frees itself.
std::string node_text(xmlNode* n);
struct xml_doc_deleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using xml_doc = std::unique_ptr<xmlDoc, xml_doc_deleter>;

// The parsers (parsers/*.cc).
void parse_upbit(const parser_context& c, const page& p, parse_result& r);
void parse_alternative_me(const parser_context& c, const page& p, parse_result& r);
void parse_cnn(const parser_context& c, const page& p, parse_result& r);
void parse_coinness(const parser_context& c, const page& p, parse_result& r);
void parse_saveticker(const parser_context& c, const page& p, parse_result& r);
void parse_rss(const parser_context& c, const page& p, parse_result& r);
void parse_generic_json(const parser_context& c, const page& p, parse_result& r);
void parse_generic_html(const parser_context& c, const page& p, parse_result& r);

}  // namespace ctk::crawler::kit
