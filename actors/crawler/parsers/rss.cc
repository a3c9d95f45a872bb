// RSS 2.0 and Atom feeds (libxml2).
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include <algorithm>
#include <cctype>
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

namespace {
// Defects that real feeds have and that browsers and feedparser read past:
// a bare '&' ("Q&A", "?a=1&b=2") and HTML entities XML does not declare
// (&nbsp;). libxml2's recover mode would drop them (and turn a link's
// "&b=2" into "=2"), so such a feed is read a second time, repaired the way
// a browser reads it; a feed whose only errors were these has been read
// whole.
bool well_known_defect(int code) {
  return code == XML_ERR_NAME_REQUIRED || code == XML_ERR_ENTITYREF_SEMICOL_MISSING ||
         code == XML_ERR_UNDECLARED_ENTITY || code == XML_WAR_UNDECLARED_ENTITY;
}

struct xml_problems {
  int recovered = 0, first_recovered_line = 0;
  std::string fatal;  // the first other error, with its line
};

void collect_xml_error(void* ctx, xmlErrorPtr e) {
  auto* out = static_cast<xml_problems*>(static_cast<xmlParserCtxtPtr>(ctx)->_private);
  if (!e || !out) return;
  if (well_known_defect(e->code)) {
    if (out->recovered++ == 0) out->first_recovered_line = e->line;
  } else if (out->fatal.empty() && e->level >= XML_ERR_ERROR) {
    out->fatal = "not well-formed XML at line " + std::to_string(e->line);
    if (e->message) out->fatal += ": " + validator::collapse_space(e->message);
  }
}

// The body with every '&' that starts no XML reference escaped, and HTML's
// named entities (libxml2's table) as numeric references; CDATA sections
// are left as they are.
std::string repair_entities(std::string_view b) {
  std::string out;
  out.reserve(b.size() + b.size() / 16);
  for (std::size_t i = 0; i < b.size();) {
    if (b.compare(i, 9, "<![CDATA[") == 0) {
      const std::size_t end = b.find("]]>", i + 9);
      const std::size_t e = end == std::string_view::npos ? b.size() : end + 3;
      out.append(b.substr(i, e - i));
      i = e;
      continue;
    }
    if (b[i] != '&') {
      out += b[i++];
      continue;
    }
    std::size_t semi = i + 1;
    while (semi < b.size() && semi - i <= 32 && (std::isalnum(static_cast<unsigned char>(b[semi])) || b[semi] == '#'))
      ++semi;
    const std::string name(b.substr(i + 1, semi - i - 1));
    const bool ref = semi < b.size() && b[semi] == ';' && !name.empty();
    const bool xml_ref =
        ref && (name[0] == '#' || name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos");
    if (xml_ref) {
      out.append(b.substr(i, semi + 1 - i));
      i = semi + 1;
    } else if (const htmlEntityDesc* d = ref ? htmlEntityLookup(BAD_CAST name.c_str()) : nullptr) {
      out += "&#" + std::to_string(d->value) + ";";
      i = semi + 1;
    } else {
      out += "&amp;";
      ++i;
    }
  }
  return out;
}

// One read of a feed body; `seen` gets its errors.
xml_doc read_feed(std::string_view body, const std::string& url, xml_problems& seen, bool& well_formed) {
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) return nullptr;
  ctxt->_private = &seen;
  ctxt->sax->serror = collect_xml_error;
  const int opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_RECOVER | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                   XML_PARSE_HUGE;
  xml_doc doc(xmlCtxtReadMemory(ctxt, body.data(), static_cast<int>(body.size()), url.c_str(), nullptr, opts));
  well_formed = ctxt->wellFormed;
  xmlFreeParserCtxt(ctxt);
  return doc;
}
}  // namespace

void parse_rss(const parser_context&, const page& p, parse_result& r) {
  xml_problems seen;
  bool well_formed = false;
  xml_doc doc = read_feed(p.body, p.url, seen, well_formed);
  if (seen.recovered > 0) {
    r.note = "read past " + std::to_string(seen.recovered) + " well-known XML defect(s) (a bare '&' or an HTML " +
             "entity), the first at line " + std::to_string(seen.first_recovered_line);
    seen = {};
    doc = read_feed(repair_entities(p.body), p.url, seen, well_formed);
  }
  std::string problem = seen.fatal;
  if (problem.empty() && !well_formed && seen.recovered == 0) problem = "not well-formed XML";
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
  if (!problem.empty()) r.error = problem + " (" + std::to_string(r.items.size()) + " items read before it)";
}

}  // namespace ctk::crawler::kit
