// News APIs: Coinness (cursor paging), SaveTicker (list, top stories, detail walk).
#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/crawler/parser_kit.h"
#include "actors/validator/normalize.h"

namespace ctk::crawler::kit {

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

}  // namespace ctk::crawler::kit
