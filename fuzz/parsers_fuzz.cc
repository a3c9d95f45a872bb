// libFuzzer target: a hostile page for every source parser. The first byte
// picks the parser (and whether the answer is an error status), the rest is
// the body. Every record a parser makes is built into an envelope and goes
// through the validator, as the crawler's records do.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "actors/crawler/crawler.h"
#include "actors/crawler/sources.h"
#include "actors/validator/validator.h"
#include "config/settings.h"

using namespace ctk::crawler;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto& all = parsers();
  const parser_entry& p = all[data[0] % all.size()];
  const long status = (data[0] / all.size()) % 4 == 3 ? 404 : 200;
  if (status != 200 && !p.sees_errors) return 0;
  static ctk::cfg::source_settings settings;
  static simdjson::dom::parser json;
  static simdjson::ondemand::parser ondemand;
  static ctk::validator::checker check;
  crawl_state state;
  state.pages = 1;
  source_memory memory;
  std::string scratch;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  page pg{"https://example.com/feed?page=1", status, body, nullptr};
  parse_result r;
  parser_context c{"fuzz", settings, state, memory, json, ondemand, scratch};
  p.parse(c, pg, r);
  // The record kind the parser makes (the first it names; "any": news).
  std::string kind(p.kinds.substr(0, p.kinds.find(' ')));
  if (kind == "any") kind = "news";
  // Envelopes as the crawler builds them (its builder does not re-check
  // the data a parser wrote): whatever the validator thinks of a record's
  // content, the envelope itself is always well-formed JSON.
  static envelope_builder env;
  env.begin_page("fuzz", kind, "2026-12-07T00:00:00Z", "t", pg.url);
  for (const auto& it : r.items) {
    const std::string* json = env.build(it.url, it.data);
    if (!json) continue;  // counted as an item error by the crawler
    const auto& v = check.check(*json, 1796601600000);
    if (!v.ok && v.rule == "decode") {
      std::fprintf(stderr, "a parser's envelope is not JSON: %s\n%s\n", v.reason.c_str(), json->c_str());
      std::abort();
    }
  }
  return 0;
}
