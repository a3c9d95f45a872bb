// libFuzzer target: any bytes as a record on `raw`, through the validator.
// Properties beyond "no crash, no sanitizer report": a record the validator
// passes passes again unchanged (its output is already normal: same id,
// same bytes), so a re-validated record never lands twice under two ids;
// except text that still holds '&' or '<' (below).
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "actors/validator/validator.h"

namespace {
// A news title or content (plain text after its markup was removed) that
// still holds '&' or '<'. URLs and the other fields may hold them freely.
bool text_reads_as_markup(const std::string& json) {
  static simdjson::dom::parser parser;
  simdjson::dom::element data;
  if (parser.parse(json)["data"].get(data)) return false;
  for (const char* field : {"title", "content"}) {
    std::string_view text;
    if (!data[field].get(text) && text.find_first_of("&<") != std::string_view::npos) return true;
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ctk::validator::checker first, second;
  constexpr std::int64_t now_ms = 1796601600000;  // 2026-12-07T00:00:00Z: a fixed clock, a repeatable run
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const auto& r = first.check(raw, now_ms);
  if (!r.ok) {
    if (r.rule.empty() || r.reason.empty()) std::abort();  // a refusal always says which rule and why
    return 0;
  }
  const std::string id = r.id, json = r.json;
  // A title or content holding '&' or '<' after its markup was removed is
  // plain text that a second pass would read as HTML again ("&amp;lt;" →
  // "&lt;" → "<"): the validator reads raw pages, never its own output, so
  // such a record is only checked for no crash.
  if (text_reads_as_markup(json)) return 0;
  const auto& again = second.check(json, now_ms);
  if (!again.ok || again.id != id || again.json != json) std::abort();
  return 0;
}
