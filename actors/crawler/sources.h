// Source parsers: one small declaration each, registered in one place
// (parsers() in sources.cc). A parser turns one fetched page into records
// in its kind's field names (messages/envelope.h: market_data, news_data,
// fear_greed_data), leaving formats (times, numbers as strings) to the
// validator. It never throws: a page it cannot read becomes `error`, which
// the crawler dead-letters with the page body.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/crawler/fetcher.h"
#include "config/settings.h"

namespace ctk::crawler {

struct page {
  std::string url;  // the original URL (also in replay mode)
  long status = 0;
  std::string_view body;
  const header_map* headers = nullptr;
};

// One record before the envelope.
struct item {
  std::string key;   // the item's own key; the Kafka key is "{source}/{key}"
  std::string url;   // envelope url: the item's link, else the page's URL
  std::string data;  // JSON object in the kind's field names
};

struct parse_result {
  std::vector<item> items;
  std::vector<std::string> follow;       // further URLs of the same crawl (next page, fallback)
  std::string error;                     // the page (or part of it) could not be read: dead-lettered
  std::vector<std::string> item_errors;  // items skipped, one reason each (counted as errors)
  std::string note;                      // logged at info (a fallback taken)
};

// State of one crawl (one command), for parsers that walk pages.
struct crawl_state {
  int pages = 0;   // answers handled so far, this one included
  int misses = 0;  // consecutive 404s in a detail walk
  std::int64_t next_id = 0;
  std::int64_t count = 0;  // items seen so far
  bool fallback = false;
};

// What one crawler process remembers about a source between crawls.
struct source_memory {
  std::int64_t last_id = 0;  // saveticker: highest detail id found
};

struct parser_context {
  const std::string& source;
  const cfg::source_settings& settings;
  crawl_state& state;
  source_memory& memory;
  simdjson::dom::parser& json;
  simdjson::ondemand::parser& ondemand;  // the hot path (upbit boards)
  std::string& scratch;                  // a padded copy of the body for ondemand
};

using parse_fn = void (*)(const parser_context&, const page&, parse_result&);

struct parser_entry {
  std::string_view name;
  std::string_view kinds;  // record kinds it can produce ("market", "news", "fear_greed"; "any")
  std::string_view description;
  parse_fn parse;
  bool sees_errors = false;  // also gets non-2xx answers (saveticker falls back on a gone list endpoint)
};

const std::vector<parser_entry>& parsers();
const parser_entry* find_parser(std::string_view name);

// SaveTicker's detail walk gives up after this many 404s in a row, or after
// this many detail requests in one crawl: its ids have gaps, and a walk
// with no end would crawl for ever.
inline constexpr int saveticker_miss_limit = 40;
inline constexpr int saveticker_walk_cap = 800;

// `url` with query parameter `name` set to `value` (added or replaced).
std::string with_query(const std::string& url, std::string_view name, std::string_view value);

}  // namespace ctk::crawler
