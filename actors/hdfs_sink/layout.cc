#include "actors/hdfs_sink/layout.h"

#include <cctype>
#include <cstring>
#include <optional>
#include <random>

#include "messages/envelope.h"

namespace ctk::hdfs {

std::string format_final_name(const final_name& n, const std::string& ext) {
  return n.topic + "+" + std::to_string(n.partition) + "+" + std::to_string(n.first) + "+" + std::to_string(n.last) +
         "." + ext;
}

std::optional<final_name> parse_final_name(const std::string& file) {
  std::size_t ext = 0;
  if (file.ends_with(".jsonl"))
    ext = 6;
  else if (file.ends_with(".avro"))
    ext = 5;
  else
    return std::nullopt;
  const std::string stem = file.substr(0, file.size() - ext);
  const auto c3 = stem.rfind('+');
  if (c3 == std::string::npos || c3 == 0) return std::nullopt;
  const auto c2 = stem.rfind('+', c3 - 1);
  if (c2 == std::string::npos || c2 == 0) return std::nullopt;
  const auto c1 = stem.rfind('+', c2 - 1);
  if (c1 == std::string::npos) return std::nullopt;
  try {
    std::size_t used = 0;
    final_name n{stem.substr(0, c1), 0, 0, 0};
    const std::string p = stem.substr(c1 + 1, c2 - c1 - 1), f = stem.substr(c2 + 1, c3 - c2 - 1),
                      l = stem.substr(c3 + 1);
    n.partition = std::stoi(p, &used);
    if (used != p.size()) return std::nullopt;
    n.first = std::stoll(f, &used);
    if (used != f.size()) return std::nullopt;
    n.last = std::stoll(l, &used);
    if (used != l.size() || n.first > n.last || n.first < 0) return std::nullopt;
    return n;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string nonce() {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// "2026-11-28T..." → "20261128" in `out`; false when it is not such a date.
bool day_of(std::string_view iso, char (&out)[8]) {
  if (iso.size() < 10 || iso[4] != '-' || iso[7] != '-') return false;
  static constexpr int from[8] = {0, 1, 2, 3, 5, 6, 8, 9};
  for (int i = 0; i < 8; ++i) {
    const char c = iso[static_cast<std::size_t>(from[i])];
    if (c < '0' || c > '9') return false;
    out[i] = c;
  }
  return true;
}

std::size_t find(std::string_view hay, std::string_view needle, std::size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  const void* p = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return p ? static_cast<std::size_t>(static_cast<const char*>(p) - hay.data()) : std::string_view::npos;
}

// Reads the routing fields of an envelope in the canonical form our encoder
// writes (the validator's output: {"v":1,"id":"…","source":"…","kind":"…",
// "fetched_at":"…",…,"data":{…}}) without parsing the rest. Inside JSON
// strings every quote is escaped, so these unescaped key patterns can only
// be structure. false: not in that form; the caller parses it in full.
bool route_fast(std::string_view v, std::string_view& source, std::string_view& kind, std::string_view& fetched,
                std::string_view& when) {
  constexpr std::string_view head = R"({"v":1,"id":")";
  if (!v.starts_with(head) || !v.ends_with("}}")) return false;
  std::size_t p = head.size();
  auto value_at = [&](std::string_view key, std::string_view& out) {
    // at p: the closing quote of the previous value, then ,"key":"
    if (p >= v.size() || v[p] != '"') return false;
    ++p;
    if (v.substr(p, 2) != ",\"" || v.substr(p + 2, key.size()) != key || v.substr(p + 2 + key.size(), 3) != "\":\"")
      return false;
    p += key.size() + 5;
    const auto end = v.find('"', p);
    if (end == std::string_view::npos) return false;
    out = v.substr(p, end - p);
    if (out.find('\\') != std::string_view::npos) return false;
    p = end;
    return true;
  };
  const auto id_end = v.find('"', p);
  if (id_end == std::string_view::npos) return false;
  p = id_end;
  if (!value_at("source", source) || !value_at("kind", kind) || !value_at("fetched_at", fetched)) return false;
  const std::string_view key = kind == "news" ? R"("published_at":")" : R"("timestamp":")";
  // The time is usually data's last field (market: always): the record
  // then ends `"VALUE"}}`, and the key right before that value is data's own
  // (a nested object's last field would end `"}}}`).
  if (v.size() > head.size() + key.size() + 3 && v.ends_with("\"}}")) {
    const auto open = v.rfind('"', v.size() - 4);
    if (open != std::string_view::npos && open + 1 >= key.size() && open > p &&
        v.substr(open + 1 - key.size(), key.size()) == key) {
      when = v.substr(open + 1, 10);
      return true;
    }
  }
  // url and trace (optional, in this order) come before data: step over them.
  std::string_view skipped;
  if (v.substr(p, 8) == R"(","url":)") value_at("url", skipped);
  if (v.substr(p, 10) == R"(","trace":)") value_at("trace", skipped);
  std::size_t data = std::string_view::npos;
  if (v.substr(p, 10) == R"(","data":{)")
    data = p + 1;
  else
    data = find(v, R"(,"data":{)", p);
  if (data == std::string_view::npos) return false;
  const auto k = find(v, key, data);
  if (k == std::string_view::npos) {
    when = fetched;
    return true;
  }
  when = v.substr(k + key.size(), 10);
  return true;
}

pipeline::outcome route(std::string_view value, msg::json_decoder& dec, std::string_view& source, char (&day)[8]) {
  std::string_view kind, fetched, when;
  if (!route_fast(value, source, kind, fetched, when) || !day_of(when, day)) {
    simdjson::dom::element root;
    msg::decode_error derr;
    if (!dec.parse(value, root, derr)) return pipeline::outcome::dead_letter("decode", "envelope: " + derr.to_string());
    if (root["source"].get(source)) source = {};
    if (root["kind"].get(kind)) kind = {};
    const char* field = kind == "news" ? "published_at" : "timestamp";
    if (root["data"][field].get(when) || !day_of(when, day)) {
      if (root["fetched_at"].get(when) || !day_of(when, day))
        return pipeline::outcome::dead_letter(
            "timestamp", "neither data." + std::string(field) + " nor fetched_at is an ISO-8601 UTC time");
    }
  }
  if (!msg::valid_source(source)) return pipeline::outcome::dead_letter("source", msg::valid_source_rule);
  return pipeline::outcome::ok();
}

}  // namespace ctk::hdfs
