// RSS 2.0 and Atom feeds (libxml2).
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/crawler/parser_kit.h"
#include "actors/validator/normalize.h"

namespace ctk::crawler::kit {

// ---- rss: RSS 2.0 / Atom ------------------------------------------------
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

}  // namespace ctk::crawler::kit
