// JSON codec derived from one field list per struct.
//
// A message struct lists its fields once:
//     static constexpr auto fields() { return std::tuple{field("symbol", &market_data::symbol), ...}; }
// and `encode()` / `json_decoder::decode()` are derived from that list, so a
// field is never named in three places. Decoding uses simdjson's DOM parser
// (docs/decisions.md says why not On-Demand) and reports errors as values
// (no exceptions); encoding uses rapidjson's
// Writer, which escapes, validates UTF-8 and prints doubles that round-trip.
//
// Threading: a json_decoder owns a parser and a buffer; use one per thread.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace ctk::msg {

// A JSON value carried as its (validated) text, e.g. the envelope's `data`.
// json_decoder::decode_in_place() leaves `text` empty and points `dom` at
// the parsed value instead (valid until that decoder parses again): a
// reader that walks the value saves printing it and parsing it back.
struct raw_json {
  std::string text;
  simdjson::dom::element dom{};
  bool operator==(const raw_json& o) const { return text == o.text; }
};

template <class T, class M>
struct field_t {
  std::string_view name;
  M T::*member;
  bool required;
};

// Declares one field. Optional<> members and required=false fields may be absent.
template <class T, class M>
constexpr field_t<T, M> field(std::string_view name, M T::*member, bool required = true) {
  return {name, member, required};
}

template <class T>
concept described = requires {
  T::fields();
};

// What went wrong and where: `path` is the field path (data.price, keywords[3]),
// `offset` the byte offset in the input when simdjson can tell.
struct decode_error {
  std::string path;
  std::string what;
  std::int64_t offset = -1;
  std::string to_string() const;
};

namespace detail {

// Where a decoder or encoder is, for error messages. Names are views of
// field names or of the input being decoded (alive while it runs); no
// allocation per message. Paths deeper than `max` keep their first levels.
class path_stack {
 public:
  void push(std::string_view name) {
    if (size_ < max) parts_[size_] = {name, 0, false};
    ++size_;
  }
  void push_index(std::size_t i) {
    if (size_ < max) parts_[size_] = {{}, i, true};
    ++size_;
  }
  void pop() { --size_; }
  std::string str() const;

 private:
  struct part {
    std::string_view name;
    std::size_t index;
    bool is_index;
  };
  static constexpr std::size_t max = 32;
  std::array<part, max> parts_;
  std::size_t size_ = 0;
};

struct decode_ctx {
  path_stack path;
  decode_error* err;
  bool raw_in_place = false;  // raw_json: keep the DOM element, print no text
  bool fail(std::string what) {
    err->path = path.str();
    err->what = std::move(what);
    return false;
  }
  bool fail_type(simdjson::error_code e, std::string_view expected, simdjson::dom::element v);
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

bool decode_scalar(simdjson::dom::element v, std::string& out, decode_ctx& c);
bool decode_scalar(simdjson::dom::element v, double& out, decode_ctx& c);
bool decode_scalar(simdjson::dom::element v, std::int64_t& out, decode_ctx& c);
bool decode_scalar(simdjson::dom::element v, bool& out, decode_ctx& c);
bool decode_scalar(simdjson::dom::element v, raw_json& out, decode_ctx& c);

template <class M>
bool decode_value(simdjson::dom::element v, M& out, decode_ctx& c);

template <described T>
bool decode_object(simdjson::dom::element v, T& out, decode_ctx& c) {
  simdjson::dom::object obj;
  if (auto e = v.get_object().get(obj)) return c.fail_type(e, "object", v);
  constexpr auto fields = T::fields();
  constexpr std::size_t n = std::tuple_size_v<decltype(fields)>;
  static_assert(n <= 64, "at most 64 fields per struct");
  std::uint64_t seen = 0;
  for (auto kv : obj) {
    // Named, not structured bindings: clang before 16 cannot capture those
    // in the lambda below (the fuzz build uses Debian's clang 14).
    const std::string_view key = kv.key;
    const simdjson::dom::element fv = kv.value;
    bool ok = true;
    const auto one = [&](const auto& f, std::uint64_t bit) {
      seen |= bit;
      c.path.push(key);
      ok = decode_value(fv, out.*(f.member), c);
      if (ok) c.path.pop();  // on failure the path names the field
    };
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((std::get<I>(fields).name == key ? (one(std::get<I>(fields), std::uint64_t{1} << I), true) : false) ||
             ...);
    }
    (std::make_index_sequence<n>{});
    if (!ok) return false;
    // Unknown keys are skipped: newer producers may add fields.
  }
  // A field the input leaves out gets its default, also in a struct decoded
  // into before (callers reuse structs to keep their buffers).
  static const T defaults{};
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((seen & (std::uint64_t{1} << I)
          ? void()
          : void(out.*(std::get<I>(fields).member) = defaults.*(std::get<I>(fields).member))),
     ...);
  }
  (std::make_index_sequence<n>{});
  bool ok = true;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (void)((ok && std::get<I>(fields).required && !(seen & (std::uint64_t{1} << I)) &&
                    !is_optional<std::remove_cvref_t<decltype(out.*(std::get<I>(fields).member))>>::value
                ? (c.path.push(std::get<I>(fields).name), ok = c.fail("required field is missing"), true)
                : false) ||
           ...);
  }
  (std::make_index_sequence<n>{});
  return ok;
}

template <class M>
bool decode_value(simdjson::dom::element v, M& out, decode_ctx& c) {
  if constexpr (is_optional<M>::value) {
    if (v.is_null()) {
      out.reset();
      return true;
    }
    out.emplace();
    return decode_value(v, *out, c);
  } else if constexpr (is_vector<M>::value) {
    simdjson::dom::array arr;
    if (auto e = v.get_array().get(arr)) return c.fail_type(e, "array", v);
    out.clear();
    out.reserve(arr.size());
    std::size_t i = 0;
    for (auto elem : arr) {
      c.path.push_index(i++);
      out.emplace_back();
      if (!decode_value(elem, out.back(), c)) return false;
      c.path.pop();
    }
    return true;
  } else if constexpr (described<M>) {
    return decode_object(v, out, c);
  } else {
    return decode_scalar(v, out, c);
  }
}

// Strings are checked for UTF-8 by simdjson (SIMD) before they are written,
// not byte by byte by rapidjson's kWriteValidateEncodingFlag (a third of the
// validator's time went there).
// Strings that need no escaping (most: ids, names, times, URLs, UTF-8
// text without quotes or control characters) are copied in one piece; the
// rest go through rapidjson's per-byte escaping.
class writer_t : public rapidjson::Writer<rapidjson::StringBuffer> {
 public:
  using rapidjson::Writer<rapidjson::StringBuffer>::Writer;
  bool PlainOrEscapedString(const char* s, std::size_t n);
};

struct encode_ctx {
  writer_t& w;
  path_stack path;
  std::string error;
};

bool encode_scalar(encode_ctx& c, const std::string& v);
bool encode_scalar(encode_ctx& c, double v);
bool encode_scalar(encode_ctx& c, std::int64_t v);
bool encode_scalar(encode_ctx& c, bool v);
bool encode_scalar(encode_ctx& c, const raw_json& v);
bool encode_fail(encode_ctx& c, std::string_view what);

template <class M>
bool encode_value(encode_ctx& c, const M& v);

template <class M>
bool encode_member(encode_ctx& c, std::string_view name, const M& v) {
  c.w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  c.path.push(name);
  bool ok = encode_value(c, v);
  if (ok) c.path.pop();  // on failure the path stays, naming the field
  return ok;
}

template <class M>
bool encode_value(encode_ctx& c, const M& v) {
  if constexpr (is_optional<M>::value) {
    if (!v) return c.w.Null();
    return encode_value(c, *v);
  } else if constexpr (is_vector<M>::value) {
    c.w.StartArray();
    for (std::size_t i = 0; i < v.size(); ++i) {
      c.path.push_index(i);
      if (!encode_value(c, v[i])) return false;
      c.path.pop();
    }
    return c.w.EndArray();
  } else if constexpr (described<M>) {
    c.w.StartObject();
    bool ok = true;
    std::apply([&](const auto&... f) { (void)((ok = ok && encode_member(c, f.name, v.*(f.member))) && ...); },
               M::fields());
    if (!ok) return false;
    return c.w.EndObject();
  } else {
    return encode_scalar(c, v);
  }
}

}  // namespace detail

// Encodes `value` as compact JSON into `out` (replacing its contents).
// Fails (returns false, `error` says where) on invalid UTF-8, NaN or infinity.
template <described T>
bool encode(const T& value, std::string& out, std::string* error = nullptr) {
  static thread_local rapidjson::StringBuffer buf;  // reused: no allocation per message
  buf.Clear();
  detail::writer_t w(buf);
  detail::encode_ctx c{w, {}, {}};
  if (!detail::encode_value(c, value)) {
    if (error) *error = c.error.empty() ? "cannot encode" : c.error;
    return false;
  }
  out.assign(buf.GetString(), buf.GetSize());
  return true;
}

// Decodes JSON objects into described structs. Uses simdjson's DOM parser,
// which picks the fastest kernel for this CPU at run time (On-Demand in
// simdjson 3.0 is compiled for the build's baseline only). The whole input
// is validated (structure, UTF-8, numbers) before any field is read.
class json_decoder {
 public:
  explicit json_decoder(std::size_t max_depth = 256);

  template <described T>
  bool decode(std::string_view json, T& out, decode_error& err) {
    return decode_root(json, out, err, false);
  }

  // As decode(), but raw_json members get their `dom` element, not text;
  // both are valid until this decoder's next call.
  template <described T>
  bool decode_in_place(std::string_view json, T& out, decode_error& err) {
    return decode_root(json, out, err, true);
  }

  // Decodes an object of an earlier decode_in_place() (its raw_json `dom`),
  // without parsing again; valid until this decoder's next parse.
  template <described T>
  bool decode_element(simdjson::dom::element e, T& out, decode_error& err) {
    detail::decode_ctx c{{}, &err, false};
    return detail::decode_object(e, out, c);
  }

  // Checks that `json` is one well-formed JSON value (UTF-8 included).
  bool validate(std::string_view json, decode_error& err) {
    simdjson::dom::element root;
    return parse(json, root, err);
  }

  // Parses into a DOM element valid until the next call (for generic code).
  bool parse(std::string_view json, simdjson::dom::element& root, decode_error& err);

 private:
  template <described T>
  bool decode_root(std::string_view json, T& out, decode_error& err, bool raw_in_place) {
    simdjson::dom::element root;
    if (!parse(json, root, err)) return false;
    detail::decode_ctx c{{}, &err, raw_in_place};
    return detail::decode_object(root, out, c);
  }

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buffer_;  // padded copy: Kafka payloads carry no padding
  std::size_t capacity_ = 0;
};

}  // namespace ctk::msg
