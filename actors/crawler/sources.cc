#include "actors/crawler/sources.h"

#include "actors/crawler/parser_kit.h"

namespace ctk::crawler {

using namespace kit;

std::string with_query(const std::string& url, std::string_view name, std::string_view value) {
  const auto q = url.find('?');
  std::string base = url.substr(0, q);
  std::string out;
  if (q != std::string::npos) {
    std::string_view rest(url);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view kv = rest.substr(0, amp);
      if (kv.substr(0, kv.find('=')) != name && !kv.empty()) out += (out.empty() ? "" : "&") + std::string(kv);
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  out += (out.empty() ? "" : "&") + std::string(name) + "=" + std::string(value);
  return base + "?" + out;
}

const std::vector<parser_entry>& parsers() {
  static const std::vector<parser_entry> all{
      {"upbit", "market", "Upbit tickers (/v1/ticker/all or /v1/ticker): one market record per symbol", parse_upbit},
      {"alternative_me", "fear_greed", "alternative.me crypto fear & greed (/fng/)", parse_alternative_me},
      {"cnn_fear_greed", "fear_greed", "CNN fear & greed, current value (unofficial endpoint)", parse_cnn},
      {"coinness", "news", "Coinness breaking news, cursor paging (lastId/lastAt) up to max_pages", parse_coinness},
      {"saveticker", "news", "SaveTicker news list; top-stories + detail walk when the list is gone", parse_saveticker,
       true},
      {"rss", "news", "any RSS 2.0 / Atom feed; HTML stripped; key = guid, else link", parse_rss},
      {"json", "any", "generic JSON: `items` JSON pointer, `fields` pointers per item", parse_generic_json},
      {"html", "any", "generic HTML: `items` XPath, `fields` XPath per item (libxml2)", parse_generic_html},
  };
  return all;
}

const parser_entry* find_parser(std::string_view name) {
  for (const auto& p : parsers())
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace ctk::crawler
