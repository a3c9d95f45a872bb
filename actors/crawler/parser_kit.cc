#include "actors/crawler/parser_kit.h"

#include <curl/curl.h>

#include <cmath>

namespace ctk::crawler::kit {

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
// field: unofficial endpoints change shape without notice, so both are
// accepted.
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

std::string node_text(xmlNode* n) {
  xmlChar* t = xmlNodeGetContent(n);
  std::string s = t ? reinterpret_cast<const char*>(t) : "";
  xmlFree(t);
  return s;
}

}  // namespace ctk::crawler::kit
