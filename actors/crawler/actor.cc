// The crawler actor around the crawl engine: control → raw | deadletter,
// reports. Kept apart from crawler.cc so that the engine (and
// benchmarks/crawl_bench) does not link the runtime's metrics server.
#include <spdlog/spdlog.h>

#include "actors/crawler/crawler.h"
#include "pipeline/process.h"

namespace ctk::crawler {

namespace {

class crawler_actor final : public pipeline::actor {
 public:
  explicit crawler_actor(const pipeline::actor_context& c)
      : engine_(c.config.cluster, c.config.sources, c.identity),
        replay_(c.config.cluster.crawler.replay),
        metrics_(c.metrics) {
    if (!replay_.empty()) spdlog::info("replay mode: every request goes to {}", replay_);
    // The engine and its HTTP client keep these counts (benchmarks/crawl_bench
    // runs the engine without a registry); they are read at each scrape.
    const auto& s = engine_.http().stats();
    auto& e = engine_;
    auto& m = c.metrics;
    m.counter_fn("ctk_crawler_pages_total", "pages answered (304 included)", [&e] { return double(e.pages()); });
    m.counter_fn("ctk_crawler_http_requests_total", "HTTP exchanges started, retries included",
                 [&s] { return double(s.requests.load()); });
    m.counter_fn("ctk_crawler_http_retries_total", "retried requests", [&s] { return double(s.retries.load()); });
    m.counter_fn("ctk_crawler_http_failures_total", "requests given up on", [&s] { return double(s.failures.load()); });
    m.counter_fn("ctk_crawler_http_not_modified_total", "304 answers to conditional requests",
                 [&s] { return double(s.not_modified.load()); });
    m.counter_fn("ctk_crawler_http_bytes_total", "response body bytes", [&s] { return double(s.bytes.load()); });
    m.counter_fn("ctk_crawler_http_throttled_total", "holds from Retry-After or Remaining-Req",
                 [&s] { return double(s.throttled.load()); });
  }

  std::string name() const override { return "crawler"; }
  std::vector<std::string> inputs() const override { return {"control"}; }
  std::vector<std::string> outputs() const override { return {"raw", "reports"}; }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter& out) override {
    msg::crawl_command cmd;
    msg::decode_error err;
    if (!decoder_.decode(in.value, cmd, err))
      return pipeline::outcome::dead_letter("decode", "crawl command: " + err.to_string());
    if (cmd.id.empty() || cmd.source.empty())
      return pipeline::outcome::dead_letter("command", "crawl command: `id` and `source` must not be empty");

    struct sink_t final : crawl_sink {
      pipeline::emitter& out;
      const pipeline::input& in;
      bool refused = false;
      sink_t(pipeline::emitter& o, const pipeline::input& i) : out(o), in(i) {}
      void record(std::string_view key, std::string_view env, std::string_view placement) override {
        out.emit("raw", key, env, placement.empty() ? -1 : out.partition_for("raw", placement));
      }
      void page_failed(const std::string& source, const std::string& reason, std::string_view body) override {
        refused |= !out.dead_letter(in.topic, in.partition, in.offset, source, body,
                                    pipeline::outcome::dead_letter("page", reason));
      }
    } sink(out, in);

    bool stopped = false;
    auto reports = engine_.crawl({cmd}, sink, &pipeline::stop_requested(), &stopped);
    if (stopped) return pipeline::outcome::retry("stopped during the crawl; the command is crawled again on restart");
    if (sink.refused) return pipeline::outcome::retry("a page's dead letter could not be produced");
    auto& rep = reports.front();
    count(rep);
    std::string json;
    msg::encode(rep, json);
    out.emit("reports", rep.source, json);
    spdlog::info("crawl {} {} ({}): {}, {} records, {} errors, {} pages ({} not modified) in {} ms", rep.id, rep.source,
                 cmd.reason, rep.status, rep.records, rep.errors, rep.pages, rep.not_modified, rep.duration_ms);
    if (rep.status == "refused") return pipeline::outcome::dead_letter("source", rep.error);
    return pipeline::outcome::ok();
  }

 private:
  // Per source: crawls by status, records, and how long a crawl took.
  void count(const msg::crawl_report& rep) {
    const pipeline::label_set source{{"source", rep.source}};
    metrics_
        .counter("ctk_crawler_crawls_total", "crawls reported, by source and status (ok, partial, failed, refused)",
                 {{"source", rep.source}, {"status", rep.status}})
        .fetch_add(1);
    metrics_.counter("ctk_crawler_records_total", "records produced to raw, by source", source)
        .fetch_add(static_cast<std::uint64_t>(rep.records));
    metrics_.histo("ctk_crawler_crawl_duration_seconds", "one crawl of a source, every page of it", source)
        .observe(static_cast<double>(rep.duration_ms) / 1000.0);
  }

  crawl_engine engine_;
  std::string replay_;
  pipeline::metrics_registry& metrics_;
  msg::json_decoder decoder_;
};

}  // namespace

std::unique_ptr<pipeline::actor> make_crawler(const pipeline::actor_context& ctx) {
  return std::make_unique<crawler_actor>(ctx);
}

}  // namespace ctk::crawler
