// The crawler actor: control (crawl commands) → raw (records) | deadletter
// (pages that could not be fetched or read) + reports (one per command).
// See README.md.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/crawler/fetcher.h"
#include "actors/crawler/sources.h"
#include "messages/envelope.h"
#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::crawler {

// Where a crawl's output goes.
class crawl_sink {
 public:
  virtual ~crawl_sink() = default;
  // One raw envelope; key = "{source}/{item key}". `placement`: what places
  // it on `raw` — empty: the key; else this (the source, for every kind but
  // market: one source's news stays in one partition, in order).
  virtual void record(std::string_view key, std::string_view envelope, std::string_view placement) = 0;
  // A page that could not be fetched or read: the reason names the URL; the
  // body is cut to crawler.deadletter_body_bytes.
  virtual void page_failed(const std::string& source, const std::string& reason, std::string_view body) = 0;
};

// Raw envelopes in msg::envelope's field order, assembled from a per-page
// head and the parser's `data` object, which is copied as it is: the
// parsers write it from UTF-8 that simdjson or libxml2 already checked, and
// msg::encode would re-validate it byte by byte (a quarter of the crawl's
// CPU). Strings of the envelope itself are escaped and checked by rapidjson.
class envelope_builder {
 public:
  void begin_page(std::string_view source, std::string_view kind, std::string_view fetched_at, std::string_view trace,
                  std::string_view page_url);
  // The envelope of one item; nullptr if a string is not valid UTF-8.
  const std::string* build(std::string_view url, std::string_view data);

 private:
  static bool quote(std::string_view s, std::string& out);
  std::string head_, mid_, page_url_, page_url_quoted_, out_;
  bool ok_ = false, page_url_ok_ = false;
};

// Crawls: start URLs → fetcher → parser → envelopes, following the pages a
// parser asks for. Several commands run concurrently in one fetcher.
class crawl_engine {
 public:
  crawl_engine(const cfg::cluster_settings& cluster, cfg::sources_settings sources, std::string identity);
  ~crawl_engine();

  // One report per command, in order. `*stopped` is set when `stop` cut the
  // crawls short (their reports are then incomplete).
  std::vector<msg::crawl_report> crawl(const std::vector<msg::crawl_command>& cmds, crawl_sink& sink,
                                       const std::atomic<bool>* stop = nullptr, bool* stopped = nullptr);

  fetcher& http() { return http_; }
  std::uint64_t pages() const { return pages_; }
  std::uint64_t records() const { return records_; }

 private:
  struct run;
  void submit(run& r, const std::string& url, crawl_sink& sink);
  void on_response(run& r, response&& res, crawl_sink& sink);
  void top_up(run& r, crawl_sink& sink);

  cfg::crawler_settings settings_;
  cfg::sources_settings sources_;
  std::string identity_;
  fetcher http_;
  simdjson::dom::parser json_;
  simdjson::ondemand::parser ondemand_;
  std::string scratch_;
  envelope_builder env_;
  std::map<std::string, source_memory> memory_;
  std::atomic<std::uint64_t> pages_{0}, records_{0};
};

std::unique_ptr<pipeline::actor> make_crawler(const pipeline::actor_context& ctx);

}  // namespace ctk::crawler
