#include "actors/crawler/crawler.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "actors/validator/normalize.h"
#include "messages/envelope.h"

namespace ctk::crawler {

struct crawl_engine::run {
  const msg::crawl_command* cmd = nullptr;
  const cfg::source_settings* src = nullptr;
  const parser_entry* parser = nullptr;
  crawl_state state;
  msg::crawl_report report;
  std::chrono::steady_clock::time_point started;
  std::size_t next_start = 0;  // start URLs are fed to the fetcher a window at a time
  int queued = 0;              // requests of this crawl submitted and not yet answered
};

namespace {
// Requests of one crawl handed to the fetcher at a time: a source with
// thousands of URLs costs a window of queued requests, not thousands.
int window_for(const cfg::source_settings& s, const cfg::crawler_settings& c) {
  return 2 * std::max(1, s.max_connections > 0 ? s.max_connections : c.max_connections_per_host);
}

// News pages list the newest first; downstream, a source's news should come
// oldest first (the analyzer counts an item far behind its source's newest
// as late). Sorted by `published_at` as the validator will read it (any of
// its formats; the item's own zone is not needed to order one page). Items
// whose time does not parse keep their place relative to each other, after
// the dated ones.
void oldest_first(std::vector<item>& items) {
  auto published = [](const item& it) -> std::int64_t {
    static constexpr std::string_view tag = "\"published_at\":";
    constexpr std::int64_t undated = std::numeric_limits<std::int64_t>::max();
    const auto at = it.data.find(tag);
    if (at == std::string::npos) return undated;
    std::string_view v = std::string_view(it.data).substr(at + tag.size());
    if (!v.empty() && v[0] == '"')
      v = v.substr(1, v.find('"', 1) - 1);  // text (JSON escapes do not occur in the time formats)
    else
      v = v.substr(0, v.find_first_of(",}"));  // a number (epoch)
    std::string why;
    return validator::parse_time_ms(v, "UTC", why).value_or(undated);
  };
  std::vector<std::pair<std::int64_t, std::size_t>> order;
  for (std::size_t i = 0; i < items.size(); ++i) order.emplace_back(published(items[i]), i);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<item> sorted;
  sorted.reserve(items.size());
  for (const auto& [t, i] : order) sorted.push_back(std::move(items[i]));
  items.swap(sorted);
}
}  // namespace

bool envelope_builder::quote(std::string_view s, std::string& out) {
  // Checked by simdjson, not by rapidjson's kWriteValidateEncodingFlag: that
  // reads every tail byte a lead byte announces, up to two bytes past the
  // end of a string cut inside a sequence (found by ASan in fuzz/parsers_fuzz.cc).
  if (!msg::is_valid_utf8(s)) return false;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  if (!w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()))) return false;
  out.append(buf.GetString(), buf.GetSize());
  return true;
}

void envelope_builder::begin_page(std::string_view source, std::string_view kind, std::string_view fetched_at,
                                  std::string_view trace, std::string_view page_url) {
  // The page's envelope as the codec writes it (msg::envelope's field list:
  // names, order, escaping), with markers where each item's url and data
  // go; what lies around the markers is reused for every item.
  static constexpr std::string_view url_marker = "\x01", url_marker_json = R"("\u0001")";
  static constexpr std::string_view data_marker = R"("\u0002")";
  msg::envelope e;
  e.source = source;
  e.kind = kind;
  e.fetched_at = fetched_at;
  e.trace = trace;
  e.url = url_marker;
  e.data.text = data_marker;
  std::string json;
  ok_ = msg::encode(e, json);  // false: a string is not valid UTF-8
  const auto u = ok_ ? json.find(url_marker_json) : std::string::npos;
  const auto d = u == std::string::npos ? u : json.rfind(data_marker);  // data is the last field
  ok_ = d != std::string::npos && json.compare(d + data_marker.size(), std::string::npos, "}") == 0;
  if (ok_) {
    head_ = json.substr(0, u);
    mid_ = json.substr(u + url_marker_json.size(), d - u - url_marker_json.size());
  }
  page_url_.assign(page_url);
  page_url_quoted_.clear();
  page_url_ok_ = quote(page_url, page_url_quoted_);
}

const std::string* envelope_builder::build(std::string_view url, std::string_view data) {
  if (!ok_) return nullptr;
  out_ = head_;
  if (url == page_url_) {
    if (!page_url_ok_) return nullptr;
    out_ += page_url_quoted_;
  } else if (!quote(url, out_)) {
    return nullptr;
  }
  out_ += mid_;
  out_ += data.empty() ? std::string_view("{}") : data;
  out_ += '}';
  return &out_;
}

crawl_engine::crawl_engine(const cfg::cluster_settings& cluster, cfg::sources_settings sources, std::string identity)
    : settings_(cluster.crawler),
      sources_(std::move(sources)),
      identity_(std::move(identity)),
      http_(cluster.crawler) {}

crawl_engine::~crawl_engine() = default;

void crawl_engine::submit(run& r, const std::string& url, crawl_sink& sink) {
  request q;
  q.url = url;
  q.headers.assign(r.src->headers.begin(), r.src->headers.end());
  q.timeout_ms = static_cast<int>(r.src->timeout.ms);
  q.retries = r.src->retries;
  q.rate_per_s = r.src->rate_limit_per_s;
  q.max_connections = r.src->max_connections;
  ++r.queued;
  http_.submit(std::move(q), [this, &r, &sink](response&& res) {
    --r.queued;
    on_response(r, std::move(res), sink);
    top_up(r, sink);
  });
}

void crawl_engine::top_up(run& r, crawl_sink& sink) {
  const int window = window_for(*r.src, settings_);
  while (r.queued < window && r.next_start < r.src->urls.size()) submit(r, r.src->urls[r.next_start++], sink);
}

void crawl_engine::on_response(run& r, response&& res, crawl_sink& sink) {
  ++r.state.pages;
  ++r.report.pages;
  ++pages_;
  if (res.not_modified) {
    ++r.report.not_modified;
    return;
  }
  auto fail = [&](const std::string& why) {
    ++r.report.errors;
    if (r.report.error.empty()) r.report.error = why;
    std::string_view body = res.body;
    std::string reason = why + " (" + res.url + ")";
    const auto cap = static_cast<std::size_t>(settings_.deadletter_body_bytes);
    if (body.size() > cap) {
      reason += "; body: first " + std::to_string(cap) + " of " + std::to_string(body.size()) + " bytes";
      body = body.substr(0, cap);
    }
    spdlog::warn("crawl {} {}: {}", r.report.id, r.report.source, reason);
    sink.page_failed(r.report.source, reason, body);
  };
  if (!res.error.empty() || (!res.ok() && !r.parser->sees_errors)) {
    fail("fetch failed: " + res.describe());
    return;
  }
  parse_result pr;
  page pg{res.url, res.status, res.body, &res.headers};
  parser_context ctx{r.report.source, *r.src, r.state, memory_[r.report.source], json_, ondemand_, scratch_};
  r.parser->parse(ctx, pg, pr);
  if (!pr.note.empty()) spdlog::info("crawl {} {}: {}", r.report.id, r.report.source, pr.note);
  env_.begin_page(r.report.source, r.src->kind, msg::utc_now_iso(), r.cmd->id, res.url);
  std::string key;
  const bool market = r.src->kind == "market";
  if (r.src->kind == "news") oldest_first(pr.items);
  for (auto& it : pr.items) {
    const std::string* json = env_.build(it.url, it.data);
    if (!json) {
      pr.item_errors.push_back("an item whose url is not valid UTF-8");
      continue;
    }
    key.assign(r.report.source).append("/").append(it.key);
    sink.record(key, *json, market ? std::string_view{} : std::string_view(r.report.source));
    ++r.report.records;
    ++records_;
  }
  if (!pr.error.empty() || !pr.item_errors.empty()) {
    std::string why = pr.error;
    if (!pr.item_errors.empty()) {
      if (!why.empty()) why += "; ";
      why += std::to_string(pr.item_errors.size()) + " item(s) skipped, first: " + pr.item_errors.front();
      r.report.errors += static_cast<std::int64_t>(pr.item_errors.size()) - (pr.error.empty() ? 1 : 0);
    }
    fail("parse failed: " + why);
  }
  for (const auto& next : pr.follow) submit(r, next, sink);
}

std::vector<msg::crawl_report> crawl_engine::crawl(const std::vector<msg::crawl_command>& cmds, crawl_sink& sink,
                                                   const std::atomic<bool>* stop, bool* stopped) {
  std::vector<run> runs(cmds.size());
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    run& r = runs[i];
    r.cmd = &cmds[i];
    r.report.id = cmds[i].id;
    r.report.source = cmds[i].source;
    r.report.actor = identity_;
    r.report.started_at = msg::utc_now_iso();
    r.started = std::chrono::steady_clock::now();
    auto it = sources_.sources.find(cmds[i].source);
    if (it == sources_.sources.end()) {
      r.report.status = "refused";
      r.report.error = "no source named '" + cmds[i].source + "' in sources.yaml";
      continue;
    }
    if (!it->second.enabled && !cmds[i].force.value_or(false)) {
      r.report.status = "refused";
      r.report.error = "source '" + cmds[i].source + "' is disabled: " + it->second.disabled_reason +
                       " (a command with \"force\":true crawls it anyway)";
      continue;
    }
    r.src = &it->second;
    r.parser = find_parser(r.src->parser);
    if (!r.parser) {  // the config check refuses unknown parsers; kept for safety
      r.report.status = "refused";
      r.report.error = "no parser named '" + r.src->parser + "'";
      continue;
    }
    top_up(r, sink);
  }
  const bool done = http_.run(stop);
  if (stopped) *stopped = !done;
  std::vector<msg::crawl_report> out;
  for (auto& r : runs) {
    auto& rep = r.report;
    if (rep.status.empty()) rep.status = rep.errors == 0 ? "ok" : rep.records > 0 ? "partial" : "failed";
    rep.finished_at = msg::utc_now_iso();
    rep.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - r.started).count();
    out.push_back(std::move(rep));
  }
  return out;
}

}  // namespace ctk::crawler
