#include "actors/crawler/sources.h"

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/validator/normalize.h"

namespace ctk::crawler {

namespace {

using simdjson::dom::element;

// A record's `data` object, written field by field.
class data_writer {
 public:
  data_writer() { w_.StartObject(); }
  void str(std::string_view k, std::string_view v) {
    key(k);
    w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
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
    for (const auto& s : v) w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    w_.EndArray();
  }
  std::string done() {
    w_.EndObject();
    return std::string(buf_.GetString(), buf_.GetSize());
  }

 private:
  void key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_{buf_};
};

bool field(element obj, std::string_view k, element& out) { return !obj[k].get(out) && !out.is_null(); }

// A JSON value as text: strings as they are, integers printed; else "".
std::string text_of(element e) {
  std::string_view s;
  if (!e.get_string().get(s)) return std::string(s);
  std::int64_t i;
  if (!e.get_int64().get(i)) return std::to_string(i);
  std::uint64_t u;
  if (!e.get_uint64().get(u)) return std::to_string(u);
  double d;
  if (!e.get_double().get(d) && std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e18)
    return std::to_string(static_cast<std::int64_t>(d));
  return {};
}

std::string text_field(element obj, std::string_view k) {
  element e;
  return field(obj, k, e) ? text_of(e) : std::string();
}

// Parses the page as JSON; false (and r.error set) if it is not JSON.
bool parse_json(const parser_context& c, const page& p, element& root, parse_result& r) {
  auto err = c.json.parse(p.body.data(), p.body.size()).get(root);
  if (err == simdjson::SUCCESS) return true;
  if (p.body.empty())
    r.error = "empty body where JSON was expected";
  else if (err == simdjson::UTF8_ERROR)
    r.error = "the body is not valid UTF-8";
  else
    r.error = std::string("not valid JSON: ") + simdjson::error_message(err);
  return false;
}

// The item array of an unofficial endpoint: the top level, or a wrapper
// field (SOURCES.md §9: accept both shapes).
bool item_array(element root, std::initializer_list<std::string_view> wrappers, simdjson::dom::array& out,
                std::string& why) {
  if (!root.get_array().get(out)) return true;
  simdjson::dom::object o;
  if (root.get_object().get(o)) {
    why = "expected a JSON array or object at the top level";
    return false;
  }
  for (auto w : wrappers) {
    element e;
    if (!o[w].get(e) && !e.get_array().get(out)) return true;
  }
  std::string names;
  for (auto w : wrappers) names += (names.empty() ? "" : ", ") + std::string(w);
  why = "no item list: expected a top-level array or one of the fields " + names;
  return false;
}

std::string query_param(const std::string& url, std::string_view name) {
  const auto q = url.find('?');
  if (q == std::string::npos) return {};
  std::string_view rest(url);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    auto eq = kv.find('=');
    if (kv.substr(0, eq) == name) return eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

std::string origin_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  const auto slash = url.find('/', scheme + 3);
  return url.substr(0, slash);
}

std::string path_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  const auto slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return "/";
  return url.substr(slash, url.find('?', slash) - slash);
}

std::string resolve_url(const std::string& base, const std::string& rel) {
  if (rel.empty()) return rel;
  CURLU* u = curl_url();
  std::string out = rel;
  if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, rel.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) out = s;
    curl_free(s);
  }
  curl_url_cleanup(u);
  return out;
}

// ---- upbit: the KRW board from /v1/ticker/all (or /v1/ticker) ----------
// The error shapes, read with the DOM (rare, small).
void upbit_not_a_board(const parser_context& c, const page& p, parse_result& r) {
  r.items.clear();
  r.item_errors.clear();
  element root;
  if (!parse_json(c, p, root, r)) return;
  element e;
  if (!root["error"].get(e))
    r.error = "Upbit error: " + text_field(e, "name") + ": " + text_field(e, "message");
  else
    r.error = "expected a JSON array of tickers";
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// A whole board is 100-250 tickers of 26 fields, crawled every few minutes:
// the On-Demand API walks each ticker once and copies the five values the
// record needs as their JSON text (no double round trip, no DOM).
void parse_upbit(const parser_context& c, const page& p, parse_result& r) {
  std::string& buf = c.scratch;
  buf.reserve(p.body.size() + simdjson::SIMDJSON_PADDING);
  buf.assign(p.body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::array arr;
  if (c.ondemand.iterate(simdjson::padded_string_view(buf.data(), buf.size(), buf.capacity())).get(doc) ||
      doc.get_array().get(arr))
    return upbit_not_a_board(c, p, r);
  auto fail = [&](simdjson::error_code e) {
    r.items.clear();
    r.item_errors.clear();
    r.error = e == simdjson::UTF8_ERROR ? "the body is not valid UTF-8"
                                        : std::string("not valid JSON: ") + simdjson::error_message(e);
  };
  std::string data;
  for (auto el : arr) {
    simdjson::ondemand::object o;
    if (auto e = el.get_object().get(o)) {
      if (e != simdjson::INCORRECT_TYPE) return fail(e);
      r.item_errors.push_back("a ticker that is not an object");
      continue;
    }
    std::string_view market, price, volume, change, ts, trade_ts;
    for (auto f : o) {
      std::string_view k, v;
      if (auto e = f.unescaped_key().get(k)) return fail(e);
      std::string_view* slot = k == "market"                 ? &market
                               : k == "trade_price"          ? &price
                               : k == "acc_trade_volume_24h" ? &volume
                               : k == "signed_change_rate"   ? &change
                               : k == "timestamp"            ? &ts
                               : k == "trade_timestamp"      ? &trade_ts
                                                             : nullptr;
      if (!slot) continue;  // skipped by the iterator, unread
      if (auto e = f.value().raw_json_token().get(v)) return fail(e);
      v = trim_right(v);
      if (v != "null") *slot = v;
    }
    if (market.size() < 3 || market.front() != '"' || market.find('\\') != std::string_view::npos) {
      r.item_errors.push_back(market.empty() ? "a ticker without `market`"
                                             : "a ticker whose `market` is not a plain string");
      continue;
    }
    if (ts.empty()) ts = trade_ts;
    data.assign(R"({"symbol":)").append(market);
    if (!price.empty()) data.append(R"(,"price":)").append(price);
    if (!volume.empty()) data.append(R"(,"volume_24h":)").append(volume);
    if (!change.empty()) data.append(R"(,"change_24h":)").append(change);
    if (!ts.empty()) data.append(R"(,"timestamp":)").append(ts);
    data += '}';
    r.items.push_back({std::string(market.substr(1, market.size() - 2)), p.url, data});
  }
}

// ---- alternative_me: crypto fear & greed -------------------------------
void parse_alternative_me(const parser_context& c, const page& p, parse_result& r) {
  element root;
  if (!parse_json(c, p, root, r)) return;
  element meta, err;
  if (field(root, "metadata", meta) && field(meta, "error", err)) {
    r.error = "alternative.me reports an error: " + text_of(err);
    return;
  }
  element data;
  simdjson::dom::array arr;
  if (!field(root, "data", data) || data.get_array().get(arr)) {
    r.error = "expected an object with a `data` array";
    return;
  }
  for (element g : arr) {
    const std::string ts = text_field(g, "timestamp");
    if (ts.empty()) {
      r.item_errors.push_back("an index value without `timestamp`");
      continue;
    }
    data_writer d;
    element e;
    if (field(g, "value", e)) d.value("value", e);
    if (field(g, "value_classification", e)) d.value("classification", e);
    d.str("timestamp", ts);
    r.items.push_back({ts, p.url, d.done()});
  }
}

// ---- cnn_fear_greed: the current CNN index (shipped disabled) ----------
void parse_cnn(const parser_context& c, const page& p, parse_result& r) {
  element root;
  if (!parse_json(c, p, root, r)) return;
  element fg;
  if (!field(root, "fear_and_greed", fg)) {
    r.error = "expected an object with `fear_and_greed`";
    return;
  }
  element score;
  double v;
  if (!field(fg, "score", score) || score.get_double().get(v)) {
    r.error = "fear_and_greed.score: expected a number";
    return;
  }
  const std::string ts = text_field(fg, "timestamp");
  data_writer d;
  d.integer("value", static_cast<std::int64_t>(std::llround(v)));  // CNN scores are fractional; the index is 0..100
  element e;
  if (field(fg, "rating", e)) d.value("classification", e);
  if (!ts.empty()) d.str("timestamp", ts);
  r.items.push_back({ts.empty() ? "current" : ts, p.url, d.done()});
}

// ---- coinness: breaking news, cursor paging ----------------------------
void parse_coinness(const parser_context& c, const page& p, parse_result& r) {
  element root;
  if (!parse_json(c, p, root, r)) return;
  simdjson::dom::array arr;
  if (!item_array(root, {"data", "items", "list"}, arr, r.error)) return;
  std::string last_id, last_at;
  std::size_t n = 0;
  for (element a : arr) {
    ++n;
    const std::string id = text_field(a, "id");
    if (id.empty()) {
      r.item_errors.push_back("a news item without `id`");
      continue;
    }
    data_writer d;
    element e;
    if (field(a, "title", e)) d.value("title", e);
    if (field(a, "content", e)) d.value("content", e);
    const std::string url = "https://coinness.com/news/" + id;
    d.str("url", url);
    if (field(a, "publishAt", e)) d.value("published_at", e);
    if (field(a, "originCodes", e)) d.value("keywords", e);
    if (field(a, "bullCount", e)) d.value("votes_up", e);
    if (field(a, "bearCount", e)) d.value("votes_down", e);
    r.items.push_back({id, url, d.done()});
    last_id = id;
    last_at = text_field(a, "publishAt");
  }
  c.state.count += static_cast<std::int64_t>(n);
  // Older pages: lastId/lastAt of the last item, until a short page or max_pages.
  const std::string limit = query_param(p.url, "limit");
  const std::size_t want = limit.empty() ? 25 : static_cast<std::size_t>(std::max(1L, std::atol(limit.c_str())));
  if (n >= want && !last_id.empty() && c.state.pages < c.settings.max_pages) {
    char* at = curl_easy_escape(nullptr, last_at.c_str(), static_cast<int>(last_at.size()));
    r.follow.push_back(with_query(with_query(p.url, "lastId", last_id), "lastAt", at ? at : ""));
    curl_free(at);
  }
}

// ---- saveticker: list pages; top-stories + detail walk when the list is gone
void saveticker_item(element n, const page& p, parse_result& r, std::int64_t* max_id) {
  const std::string id = text_field(n, "id");
  if (id.empty()) {
    r.item_errors.push_back("a news item without `id`");
    return;
  }
  data_writer d;
  element tr, ko, e;
  std::string title, content;
  if (field(n, "translations", tr) && field(tr, "ko", ko)) {
    title = text_field(ko, "title");
    content = text_field(ko, "content");
  }
  if (title.empty()) title = text_field(n, "title");
  if (content.empty() && field(n, "content", e)) {
    simdjson::dom::array blocks;
    if (!e.get_array().get(blocks)) {  // detail: [{"type":"text","content":"..."}]
      for (element b : blocks) {
        const std::string t = text_field(b, "content");
        if (!t.empty()) content += (content.empty() ? "" : "\n") + t;
      }
    } else {
      content = text_of(e);
    }
  }
  if (!title.empty()) d.str("title", title);
  if (!content.empty()) d.str("content", content);
  const std::string url = "https://www.saveticker.com/news/" + id;
  d.str("url", url);
  if (field(n, "created_at", e) || field(n, "published_at", e) || field(n, "createdAt", e)) d.value("published_at", e);
  if (field(n, "tag_names", e)) d.value("keywords", e);
  r.items.push_back({id, url, d.done()});
  if (max_id) *max_id = std::max<std::int64_t>(*max_id, std::atoll(id.c_str()));
  (void)p;
}

// `{"news_list":[...]}`, the shape of both the list and top-stories.
bool news_list(const parser_context& c, const page& p, element& root, simdjson::dom::array& arr, parse_result& r) {
  element list;
  if (!parse_json(c, p, root, r)) return false;
  if (!field(root, "news_list", list) || list.get_array().get(arr)) {
    r.error = "expected an object with a `news_list` array";
    return false;
  }
  return true;
}

void parse_saveticker(const parser_context& c, const page& p, parse_result& r) {
  const std::string path = path_of(p.url);
  const std::string origin = origin_of(p.url);
  const bool ok = p.status >= 200 && p.status < 300;
  if (path.ends_with("/news/list")) {
    if (p.status == 404 || p.status == 410) {
      c.state.fallback = true;
      r.note =
          "the list endpoint answered HTTP " + std::to_string(p.status) + "; falling back to top-stories + detail walk";
      r.follow.push_back(origin + "/api/news/top-stories");
      return;
    }
    if (!ok) {
      r.error = "HTTP " + std::to_string(p.status);
      return;
    }
    element root;
    simdjson::dom::array arr;
    if (!news_list(c, p, root, arr, r)) return;
    std::size_t n = 0;
    for (element a : arr) {
      ++n;
      saveticker_item(a, p, r, &c.memory.last_id);
    }
    c.state.count += static_cast<std::int64_t>(n);
    std::int64_t total = 0;
    element t;
    if (field(root, "total_count", t)) total = std::atoll(text_of(t).c_str());
    if (n > 0 && c.state.count < total && c.state.pages < c.settings.max_pages) {
      const std::string page_no = query_param(p.url, "page");
      const long next = (page_no.empty() ? 1 : std::atol(page_no.c_str())) + 1;
      r.follow.push_back(with_query(p.url, "page", std::to_string(next)));
    }
    return;
  }
  if (path.ends_with("/news/top-stories")) {
    if (!ok) {
      r.error = "HTTP " + std::to_string(p.status) + " from top-stories (the list endpoint is gone too)";
      return;
    }
    element root;
    simdjson::dom::array arr;
    if (!news_list(c, p, root, arr, r)) return;
    std::int64_t max_id = 0;
    for (element a : arr) saveticker_item(a, p, r, &max_id);
    c.state.next_id = std::max(max_id, c.memory.last_id) + 1;
    c.memory.last_id = std::max(c.memory.last_id, max_id);
    c.state.misses = 0;
    r.follow.push_back(origin + "/api/news/detail/" + std::to_string(c.state.next_id));
    return;
  }
  if (path.find("/news/detail/") != std::string::npos) {
    if (p.status == 404) {
      ++c.state.misses;
    } else if (!ok) {
      r.error = "HTTP " + std::to_string(p.status);
      ++c.state.misses;
    } else {
      element root, news;
      if (!parse_json(c, p, root, r)) {
        ++c.state.misses;
      } else if (!field(root, "news", news)) {
        r.error = "expected an object with `news`";
        ++c.state.misses;
      } else {
        element del;
        bool deleted = false;
        if (field(news, "is_deleted", del) && del.get_bool().get(deleted)) deleted = false;
        if (!deleted) saveticker_item(news, p, r, &c.memory.last_id);
        c.state.misses = 0;
      }
    }
    ++c.state.next_id;
    if (c.state.misses < saveticker_miss_limit && c.state.pages < saveticker_walk_cap)
      r.follow.push_back(origin + "/api/news/detail/" + std::to_string(c.state.next_id));
    return;
  }
  r.error = "saveticker: no parser for the path " + path + " (expected /api/news/list)";
}

// ---- rss: RSS 2.0 / Atom ------------------------------------------------
std::string node_text(xmlNode* n) {
  xmlChar* t = xmlNodeGetContent(n);
  std::string s = t ? reinterpret_cast<const char*>(t) : "";
  xmlFree(t);
  return s;
}

std::string attr(xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string s = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return s;
}

bool named(xmlNode* n, const char* name) { return xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0; }

bool ns_is(xmlNode* n, const char* fragment) {
  return n->ns && n->ns->href &&
         std::string_view(reinterpret_cast<const char*>(n->ns->href)).find(fragment) != std::string_view::npos;
}

struct xml_doc_deleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using xml_doc = std::unique_ptr<xmlDoc, xml_doc_deleter>;

void rss_entry(xmlNode* entry, const page& p, parse_result& r) {
  std::string title, link, guid, published, updated, description, content;
  std::vector<std::string> categories;
  for (xmlNode* n = entry->children; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (ns_is(n, "mrss")) continue;  // media:content, media:thumbnail: images
    if (named(n, "title"))
      title = node_text(n);
    else if (named(n, "link")) {
      const std::string href = attr(n, "href");  // Atom: <link rel="alternate" href="..."/>
      const std::string rel = attr(n, "rel");
      if (!href.empty()) {
        if (rel.empty() || rel == "alternate" || link.empty()) link = href;
      } else if (link.empty()) {
        link = validator::collapse_space(node_text(n));
      }
    } else if (named(n, "guid") || (named(n, "id") && !ns_is(n, "purl")))
      guid = validator::collapse_space(node_text(n));
    else if (named(n, "pubDate") || named(n, "published") || (named(n, "date") && ns_is(n, "purl.org/dc")))
      published = node_text(n);
    else if (named(n, "updated"))
      updated = node_text(n);
    else if (named(n, "description") || named(n, "summary"))
      description = node_text(n);
    else if (named(n, "encoded") || named(n, "content"))
      content = node_text(n);
    else if (named(n, "category")) {
      std::string term = attr(n, "term");
      if (term.empty()) term = node_text(n);
      term = validator::collapse_space(term);
      if (!term.empty()) categories.push_back(term);
    }
  }
  if (published.empty()) published = updated;
  link = resolve_url(p.url, link);
  std::string key = !guid.empty() ? guid : link;
  if (key.empty()) {
    r.item_errors.push_back("an item with neither guid nor link");
    return;
  }
  data_writer d;
  const std::string t = validator::strip_html(title);
  if (!t.empty()) d.str("title", t);
  if (!link.empty()) d.str("url", link);
  const std::string body = validator::strip_html(content.empty() ? description : content);
  if (!body.empty()) d.str("content", body);
  if (!published.empty()) d.str("published_at", validator::collapse_space(published));
  if (!categories.empty()) d.strings("keywords", categories);
  r.items.push_back({std::move(key), link.empty() ? p.url : link, d.done()});
}

void parse_rss(const parser_context&, const page& p, parse_result& r) {
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) {
    r.error = "out of memory (XML parser)";
    return;
  }
  const int opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_RECOVER | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                   XML_PARSE_HUGE;
  xml_doc doc(xmlCtxtReadMemory(ctxt, p.body.data(), static_cast<int>(p.body.size()), p.url.c_str(), nullptr, opts));
  const bool well_formed = ctxt->wellFormed;
  std::string problem;
  if (!well_formed) {
    const xmlError* e = xmlCtxtGetLastError(ctxt);
    problem = "not well-formed XML";
    if (e) {
      problem += " at line " + std::to_string(e->line);
      if (e->message) problem += ": " + validator::collapse_space(e->message);
    }
  }
  xmlFreeParserCtxt(ctxt);
  xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root) {
    r.error = p.body.empty() ? "empty body where a feed was expected" : problem.empty() ? "no XML document" : problem;
    return;
  }
  const bool rss = named(root, "rss") || named(root, "RDF");
  const bool atom = named(root, "feed");
  if (!rss && !atom) {
    r.error = "not an RSS or Atom feed (the root element is <" +
              std::string(reinterpret_cast<const char*>(root->name)) + ">)";
    return;
  }
  // RSS: rss/channel/item (RDF: items are the root's children); Atom: feed/entry.
  auto walk = [&](xmlNode* parent, auto& self) -> void {
    for (xmlNode* n = parent->children; n; n = n->next) {
      if (n->type != XML_ELEMENT_NODE) continue;
      if (named(n, "item") || named(n, "entry"))
        rss_entry(n, p, r);
      else if (named(n, "channel"))
        self(n, self);
    }
  };
  walk(root, walk);
  // A cut or broken feed: the items before the break are kept, and the page is dead-lettered too.
  if (!well_formed) r.error = problem + " (" + std::to_string(r.items.size()) + " items read before it)";
}

// ---- json: a source defined in sources.yaml alone ----------------------
void parse_generic_json(const parser_context& c, const page& p, parse_result& r) {
  element root;
  if (!parse_json(c, p, root, r)) return;
  const auto& s = c.settings;
  element list;
  const std::string ptr = s.items == "/" ? "" : s.items;
  if (root.at_pointer(ptr).get(list)) {
    r.error = "items pointer '" + s.items + "' found nothing";
    return;
  }
  simdjson::dom::array arr;
  if (list.get_array().get(arr)) {
    r.error = "items pointer '" + s.items + "' is not an array";
    return;
  }
  const auto key_it = s.fields.find("key");
  for (element it : arr) {
    data_writer d;
    std::string key, url;
    for (const auto& [name, pointer] : s.fields) {
      element v;
      if (it.at_pointer(pointer).get(v) || v.is_null()) continue;
      if (name == "key") {
        key = text_of(v);
        continue;
      }
      if (name == "url") {
        url = resolve_url(p.url, text_of(v));
        d.str("url", url);
        continue;
      }
      d.value(name, v);
    }
    if (key_it == s.fields.end()) key = !url.empty() ? url : simdjson::minify(it).substr(0, 200);
    if (key.empty()) {
      r.item_errors.push_back("an item without a value at its `key` pointer " + key_it->second);
      continue;
    }
    r.items.push_back({std::move(key), url.empty() ? p.url : url, d.done()});
  }
}

// ---- html: XPath selectors over an HTML page ---------------------------
struct xpath_ctx_deleter {
  void operator()(xmlXPathContext* c) const { xmlXPathFreeContext(c); }
};
struct xpath_obj_deleter {
  void operator()(xmlXPathObject* o) const { xmlXPathFreeObject(o); }
};

std::string xpath_string(xmlXPathContext* ctx, xmlNode* at, const std::string& expr) {
  std::unique_ptr<xmlXPathObject, xpath_obj_deleter> o(
      xmlXPathNodeEval(at, reinterpret_cast<const xmlChar*>(expr.c_str()), ctx));
  if (!o) return {};
  switch (o->type) {
    case XPATH_NODESET:
      if (o->nodesetval && o->nodesetval->nodeNr > 0) return node_text(o->nodesetval->nodeTab[0]);
      return {};
    case XPATH_STRING:
      return reinterpret_cast<const char*>(o->stringval);
    case XPATH_NUMBER: {
      if (!std::isfinite(o->floatval)) return {};
      if (o->floatval == std::floor(o->floatval)) return std::to_string(static_cast<std::int64_t>(o->floatval));
      return std::to_string(o->floatval);
    }
    case XPATH_BOOLEAN:
      return o->boolval ? "true" : "false";
    default:
      return {};
  }
}

void parse_generic_html(const parser_context& c, const page& p, parse_result& r) {
  const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                   HTML_PARSE_NOBLANKS | XML_PARSE_HUGE;
  xml_doc doc(htmlReadMemory(p.body.data(), static_cast<int>(p.body.size()), p.url.c_str(), "UTF-8", opts));
  if (!doc || !xmlDocGetRootElement(doc.get())) {
    r.error = p.body.empty() ? "empty body where HTML was expected" : "no HTML document could be read";
    return;
  }
  std::unique_ptr<xmlXPathContext, xpath_ctx_deleter> ctx(xmlXPathNewContext(doc.get()));
  const auto& s = c.settings;
  std::unique_ptr<xmlXPathObject, xpath_obj_deleter> items(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(s.items.c_str()), ctx.get()));
  if (!items || items->type != XPATH_NODESET) {
    r.error = "items XPath '" + s.items + "' is not a node-set expression";
    return;
  }
  const int n = items->nodesetval ? items->nodesetval->nodeNr : 0;
  if (n == 0) {
    r.error = "items XPath '" + s.items + "' matched nothing: the page layout may have changed";
    return;
  }
  for (int i = 0; i < n; ++i) {
    xmlNode* node = items->nodesetval->nodeTab[i];
    data_writer d;
    std::string key, url;
    for (const auto& [name, expr] : s.fields) {
      std::string v = validator::collapse_space(xpath_string(ctx.get(), node, expr));
      if (v.empty()) continue;
      if (name == "key")
        key = v;
      else if (name == "url") {
        url = resolve_url(p.url, v);
        d.str("url", url);
      } else if (name == "keywords") {
        d.strings("keywords", {v});
      } else {
        d.str(name, v);
      }
    }
    if (key.empty()) key = url;
    if (key.empty()) {
      r.item_errors.push_back("item " + std::to_string(i + 1) + " has neither a key nor a url");
      continue;
    }
    r.items.push_back({std::move(key), url.empty() ? p.url : url, d.done()});
  }
}

}  // namespace

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
