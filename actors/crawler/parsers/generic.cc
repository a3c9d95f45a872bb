// Sources defined in sources.yaml alone: JSON pointers, HTML XPath.
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/crawler/parser_kit.h"
#include "actors/validator/normalize.h"

namespace ctk::crawler::kit {

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

}  // namespace ctk::crawler::kit
