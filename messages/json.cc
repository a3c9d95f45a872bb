#include "messages/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cmath>
#include <cstring>

namespace ctk::msg {

std::string decode_error::to_string() const {
  std::string s;
  if (!path.empty()) s += path + ": ";
  s += what;
  if (offset >= 0) s += " (at byte " + std::to_string(offset) + ")";
  return s;
}

namespace detail {

std::string path_stack::str() const {
  std::string s;
  for (std::size_t i = 0; i < std::min(size_, max); ++i) {
    const part& p = parts_[i];
    if (p.is_index) {
      s += "[" + std::to_string(p.index) + "]";
    } else {
      if (!s.empty()) s += '.';
      s += p.name;
    }
  }
  if (size_ > max) s += ".…";
  return s;
}

namespace {
std::string_view type_name(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}
}  // namespace

bool decode_ctx::fail_type(simdjson::error_code e, std::string_view expected, simdjson::dom::element v) {
  if (e == simdjson::NUMBER_OUT_OF_RANGE) return fail("expected " + std::string(expected) + ", number out of range");
  if (e == simdjson::INCORRECT_TYPE && v.type() == simdjson::dom::element_type::DOUBLE && expected == "integer")
    return fail("expected integer, got a fraction");
  if (e == simdjson::INCORRECT_TYPE && v.type() == simdjson::dom::element_type::UINT64)
    return fail("expected " + std::string(expected) + ", number out of range");
  return fail("expected " + std::string(expected) + ", got " + std::string(type_name(v.type())));
}

bool decode_scalar(simdjson::dom::element v, std::string& out, decode_ctx& c) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) return c.fail_type(e, "string", v);
  out.assign(s);
  return true;
}

bool decode_scalar(simdjson::dom::element v, double& out, decode_ctx& c) {
  if (auto e = v.get_double().get(out)) return c.fail_type(e, "number", v);
  return true;
}

bool decode_scalar(simdjson::dom::element v, std::int64_t& out, decode_ctx& c) {
  if (auto e = v.get_int64().get(out)) return c.fail_type(e, "integer", v);
  return true;
}

bool decode_scalar(simdjson::dom::element v, bool& out, decode_ctx& c) {
  if (auto e = v.get_bool().get(out)) return c.fail_type(e, "boolean", v);
  return true;
}

bool decode_scalar(simdjson::dom::element v, raw_json& out, decode_ctx& c) {
  out.dom = v;
  if (c.raw_in_place)
    out.text.clear();
  else
    out.text = simdjson::minify(v);
  return true;
}

bool encode_fail(encode_ctx& c, std::string_view what) {
  c.error = c.path.str() + ": " + std::string(what);
  return false;
}

namespace {
// True when no byte of s is below 0x20, a quote or a backslash: the bytes
// JSON requires escaped (rapidjson escapes exactly these). Eight at a time.
bool plain_json_string(const char* s, std::size_t n) {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, s + i, 8);
    const std::uint64_t below_space = (x - ones * 0x20) & ~x & highs;
    if (below_space | has_zero(x ^ (ones * '"')) | has_zero(x ^ (ones * '\\'))) return false;
  }
  for (; i < n; ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    if (ch < 0x20 || ch == '"' || ch == '\\') return false;
  }
  return true;
}
}  // namespace

bool writer_t::PlainOrEscapedString(const char* s, std::size_t n) {
  if (!plain_json_string(s, n)) return String(s, static_cast<rapidjson::SizeType>(n));
  Prefix(rapidjson::kStringType);
  char* out = os_->Push(n + 2);
  out[0] = '"';
  std::memcpy(out + 1, s, n);
  out[n + 1] = '"';
  return EndValue(true);
}

bool encode_scalar(encode_ctx& c, const std::string& v) {
  if (!simdjson::validate_utf8(v.data(), v.size())) return encode_fail(c, "invalid UTF-8");
  return c.w.PlainOrEscapedString(v.data(), v.size());
}

bool encode_scalar(encode_ctx& c, double v) {
  if (!std::isfinite(v)) return encode_fail(c, "NaN or infinity cannot be written as JSON");
  return c.w.Double(v);
}

bool encode_scalar(encode_ctx& c, std::int64_t v) { return c.w.Int64(v); }
bool encode_scalar(encode_ctx& c, bool v) { return c.w.Bool(v); }

bool encode_scalar(encode_ctx& c, const raw_json& v) {
  if (v.text.empty()) return c.w.Null();
  // raw_json only ever holds text that came out of the decoder or was validated.
  return c.w.RawValue(v.text.data(), v.text.size(), rapidjson::kObjectType);
}

}  // namespace detail

json_decoder::json_decoder(std::size_t max_depth) {
  if (parser_.allocate(4096, max_depth)) throw std::bad_alloc();
}

bool json_decoder::parse(std::string_view json, simdjson::dom::element& root, decode_error& err) {
  err = {};
  const std::size_t need = json.size() + simdjson::SIMDJSON_PADDING;
  if (need > capacity_) {
    capacity_ = std::max(need, capacity_ * 2);
    buffer_ = std::make_unique<char[]>(capacity_);
  }
  std::memcpy(buffer_.get(), json.data(), json.size());
  std::memset(buffer_.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  if (auto e = parser_.parse(buffer_.get(), json.size(), false).get(root)) {
    err.what = std::string("not JSON: ") + simdjson::error_message(e);
    // simdjson does not say where; on this (cold) path rapidjson's SAX
    // reader finds the byte offset of the first error.
    rapidjson::Reader reader;
    rapidjson::BaseReaderHandler<> ignore;
    rapidjson::MemoryStream ms(json.data(), json.size());
    // Iterative: the recursive parser's stack grows with the nesting, and a
    // hostile message of 1 MB of `[` overflowed it (found under ASan, whose
    // frames are larger; the release build fell over at a deeper nesting).
    auto r = reader.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseStopWhenDoneFlag |
                          rapidjson::kParseIterativeFlag>(ms, ignore);
    if (r.IsError()) {
      err.offset = static_cast<std::int64_t>(r.Offset());
    } else {
      std::size_t pos = ms.Tell();  // trailing content starts after the first value
      while (pos < json.size() && (json[pos] == ' ' || json[pos] == '\n' || json[pos] == '\t' || json[pos] == '\r'))
        ++pos;
      if (pos < json.size()) err.offset = static_cast<std::int64_t>(pos);
    }
    return false;
  }
  return true;
}

}  // namespace ctk::msg
