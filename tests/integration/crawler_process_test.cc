// `cointicker run crawler --replay tests/fixtures/replay` as a real process on
// the embedded broker: crawl commands produced with kcat onto the control
// topic become records on raw (read back with kcat), one report per command,
// and dead letters for what could not be crawled.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <set>

#include "tests/integration/helpers.h"

using namespace ctk::test;

namespace {
std::string field(const std::string& json, const std::string& name) {
  const std::string pat = "\"" + name + "\":\"";
  auto p = json.find(pat);
  if (p == std::string::npos) return {};
  p += pat.size();
  return json.substr(p, json.find('"', p) - p);
}
}  // namespace

TEST(crawler_process, crawl_commands_from_kcat_become_raw_records_reports_and_dead_letters) {
  broker b;
  auto dir = temp_dir();
  const std::vector<std::string> sources{"upbit",    "alternative_me", "coinness", "saveticker",
                                         "coindesk", "cointelegraph",  "decrypt",  "cnn_fear_greed"};
  std::vector<std::string> lines;
  for (const auto& s : sources)
    lines.push_back(s + ":{\"v\":1,\"id\":\"cmd-" + s + "\",\"source\":\"" + s +
                    "\",\"reason\":\"manual\",\"requested_at\":\"2026-11-29T00:00:00Z\"}");
  lines.push_back("junk:this is not a command");
  kcat_produce(b.bootstrap(), "ctk.control", lines, dir);

  child c(
      {binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "--bootstrap", b.bootstrap(),
       "run", "crawler", "--node", "test", "--replay", std::string(CTK_SOURCE_DIR) + "/tests/fixtures/replay"},
      dir + "/c.out", dir + "/c.err",
      {// coinness asks politely (0.5/s) for its second page: not in a test
       {"CTK_SOURCES__COINNESS__RATE_LIMIT_PER_S", "50"},
       // a page the replay server has no recording for: 404, dead-lettered
       {"CTK_SOURCES__COINDESK__URLS", "[\"https://www.coindesk.com/no-such-feed\"]"}});
  ASSERT_TRUE(wait_until([&] { return kcat_values(b.bootstrap(), "ctk.reports").size() == sources.size(); },
                         std::chrono::seconds(60)))
      << c.err();

  std::map<std::string, std::string> status;
  std::map<std::string, std::string> records;
  for (const auto& r : kcat_values(b.bootstrap(), "ctk.reports")) {
    status[field(r, "source")] = field(r, "status");
    const auto p = r.find("\"records\":");
    records[field(r, "source")] = r.substr(p + 10, r.find(',', p) - p - 10);
  }
  EXPECT_EQ(status["upbit"], "ok");
  EXPECT_EQ(records["upbit"], "8");
  EXPECT_EQ(records["alternative_me"], "2");
  EXPECT_EQ(records["coinness"], "35") << "two pages, cursor followed";
  EXPECT_EQ(records["saveticker"], "30") << "two list pages";
  EXPECT_EQ(records["cointelegraph"], "2");
  EXPECT_EQ(records["decrypt"], "2");
  EXPECT_EQ(status["coindesk"], "failed");
  EXPECT_EQ(status["cnn_fear_greed"], "refused");

  // raw: every record keyed source/item, traced to its command.
  std::string out;
  run("kcat -b " + b.bootstrap() + " -C -t ctk.raw -e -q -f '%k\\t%s\\n'", &out);
  std::istringstream in(out);
  std::map<std::string, int> per_source;
  std::set<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    const std::string key = line.substr(0, tab), value = line.substr(tab + 1);
    const std::string source = field(value, "source");
    EXPECT_TRUE(key.starts_with(source + "/")) << key;
    EXPECT_EQ(field(value, "trace"), "cmd-" + source) << value;
    ++per_source[source];
    keys.insert(key);
  }
  EXPECT_EQ(per_source["upbit"], 8);
  EXPECT_EQ(per_source["coinness"], 35);
  EXPECT_EQ(per_source["saveticker"], 30);
  EXPECT_EQ(per_source.count("coindesk"), 0u);
  EXPECT_EQ(keys.size(), 79u);
  EXPECT_TRUE(keys.count("upbit/KRW-BTC"));
  EXPECT_TRUE(keys.count("coinness/900000"));

  // deadletter: the 404 page (with the replay server's answer as the body),
  // the disabled source, the garbage command.
  auto dl = kcat_values(b.bootstrap(), "ctk.deadletter");
  ASSERT_EQ(dl.size(), 3u);
  std::map<std::string, std::string> rules;
  for (const auto& d : dl) rules[field(d, "rule")] = d;
  EXPECT_NE(rules["page"].find("fetch failed: HTTP 404 (https://www.coindesk.com/no-such-feed)"), std::string::npos)
      << rules["page"];
  EXPECT_NE(rules["page"].find("\"original\":\"no route for www.coindesk.com/no-such-feed"), std::string::npos);
  EXPECT_NE(rules["source"].find("is disabled"), std::string::npos);
  EXPECT_NE(rules["decode"].find("this is not a command"), std::string::npos);

  // `cointicker crawl --wait`: the second crawl of alternative.me is a 304
  // (ETag remembered), Upbit's second board has new timestamps.
  const std::string cli =
      binary_dir() + "/cointicker --config " + std::string(CTK_SOURCE_DIR) + "/config --bootstrap " + b.bootstrap();
  std::string waited;
  EXPECT_EQ(run(cli + " crawl upbit alternative_me --wait --timeout 60 2>&1", &waited), 0) << waited;
  EXPECT_NE(waited.find("upbit            ok            8 records    0 errors    1 pages"), std::string::npos)
      << waited;
  EXPECT_NE(waited.find("alternative_me   ok            0 records    0 errors    1 pages"), std::string::npos)
      << waited;
  std::string refused;
  EXPECT_EQ(run(cli + " crawl nosuch 2>&1", &refused), 2) << refused;
  EXPECT_NE(refused.find("no source named 'nosuch'"), std::string::npos) << refused;
  EXPECT_EQ(run(cli + " crawl cnn_fear_greed --force --wait --timeout 60 2>&1", &waited), 0) << waited;
  EXPECT_NE(waited.find("cnn_fear_greed   ok            1 records"), std::string::npos) << waited;

  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(std::chrono::seconds(30)), 0) << c.err();
  EXPECT_EQ(committed_sum(b.bootstrap(), "ctk.crawler", "ctk.control", 4), static_cast<std::int64_t>(lines.size()) + 3)
      << "every command committed once handled";
}
