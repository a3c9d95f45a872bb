// The crawler's own work on N pages, for benchmarks/crawl_throughput.sh:
// the crawl engine the actor runs (libcurl multi fetcher → source parser →
// raw envelopes), one crawl command over every URL in a file, records
// counted instead of produced to Kafka (Scrapy's side produces nowhere
// either). Prints pages/s, records/s and peak RSS.
#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>

#include "actors/crawler/crawler.h"

int main(int argc, char** argv) {
  CLI::App app{"crawl throughput of the crawl engine against a replay server"};
  std::string replay, urls_file, parser = "upbit", kind = "market";
  int connections = 32;
  app.add_option("--replay", replay, "http://127.0.0.1:PORT of the replay server")->required();
  app.add_option("--urls", urls_file, "file with one URL per line")->required();
  app.add_option("--parser", parser, "source parser")->capture_default_str();
  app.add_option("--kind", kind, "record kind")->capture_default_str();
  app.add_option("--connections", connections, "requests in flight to the host")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  ctk::cfg::cluster_settings cluster;
  cluster.crawler.replay = replay;
  ctk::cfg::sources_settings sources;
  auto& s = sources.sources["bench"];
  s.kind = kind;
  s.parser = parser;
  s.rate_limit_per_s = 1e9;
  s.max_connections = connections;
  s.retries = 0;
  std::ifstream in(urls_file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) s.urls.push_back(line);

  struct counting_sink final : ctk::crawler::crawl_sink {
    std::uint64_t records = 0, bytes = 0, failures = 0;
    void record(std::string_view, std::string_view env, std::string_view) override {
      ++records;
      bytes += env.size();
    }
    void page_failed(const std::string&, const std::string& reason, std::string_view) override {
      if (failures++ < 3) std::cerr << "page failed: " << reason << "\n";
    }
  } sink;
  ctk::crawler::crawl_engine engine(cluster, std::move(sources), "bench/crawler/0");
  ctk::msg::crawl_command cmd;
  cmd.id = "bench";
  cmd.source = "bench";
  const auto t0 = std::chrono::steady_clock::now();
  auto reports = engine.crawl({cmd}, sink);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long hwm_kb = 0;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmHWM:")) hwm_kb = std::stol(line.substr(6));
  std::cout << "pages " << reports[0].pages << " records " << sink.records << " failures " << sink.failures
            << " seconds " << secs << " pages_per_s " << reports[0].pages / secs << " records_per_s "
            << sink.records / secs << " peak_rss_kb " << hwm_kb << "\n";
  return sink.failures == 0 ? 0 : 1;
}
