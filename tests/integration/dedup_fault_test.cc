// dedup's fault test: validators and dedups as real processes, one dedup
// killed with SIGKILL mid-stream and restarted, one validator stopped for
// good; `unique` must hold every distinct record exactly once and
// `deadletter` every invalid one exactly once.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <random>
#include <set>

#include "tests/integration/helpers.h"

using namespace ctk::test;

namespace {
std::unique_ptr<child> start(const broker& b, const std::string& dir, const std::string& actor, int instance) {
  const std::string tag = actor + std::to_string(instance);
  return std::make_unique<child>(
      std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                               "--bootstrap", b.bootstrap(), "run", actor, "--node", "test", "--instance",
                               std::to_string(instance)},
      dir + "/" + tag + ".out", dir + "/" + tag + ".err");
}

std::string market(int i) {
  return R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z","data":{"symbol":"KRW-C)" +
         std::to_string(i) + R"(","price":)" + std::to_string(100 + i) +
         R"(,"volume_24h":1,"change_24h":0.01,"timestamp":1725543306000}})";
}
}  // namespace

TEST(dedup_faults, unique_holds_each_distinct_record_once_across_a_sigkill_and_a_stopped_validator) {
  broker b;
  auto dir = temp_dir();
  const int distinct = 69000, invalid = 1000, total = 100000;  // 30 % of the input are duplicates
  std::vector<std::string> lines;
  lines.reserve(total);
  for (int i = 0; i < distinct; ++i) lines.push_back("upbit/C" + std::to_string(i) + ":" + market(i));
  std::mt19937 rng(11);
  for (int i = 0; i < total - distinct - invalid; ++i) {
    // Duplicates of any earlier record, some tens of thousands of messages apart.
    const int of = static_cast<int>(rng() % distinct);
    lines.push_back("upbit/C" + std::to_string(of) + ":" + market(of));
  }
  for (int i = 0; i < invalid; ++i)
    lines.push_back(
        "upbit/bad" + std::to_string(i) + ":" +
        R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z","data":{"symbol":"BAD)" +
        std::to_string(i) + R"(","price":-1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000}})");
  std::shuffle(lines.begin() + distinct / 2, lines.end(), rng);  // the first half stays early
  // Half now; the other half after the kill, so that the kill lands mid-stream.
  const std::vector<std::string> first(lines.begin(), lines.begin() + total / 2),
      second(lines.begin() + total / 2, lines.end());
  auto v0 = start(b, dir, "validator", 0);
  auto v1 = start(b, dir, "validator", 1);
  auto d0 = start(b, dir, "dedup", 0);
  auto d1 = start(b, dir, "dedup", 1);
  // The groups form first (both members assigned); the faults come mid-stream.
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto* c : {v0.get(), v1.get(), d0.get(), d1.get()})
          if (c->err().find("assigned") == std::string::npos) return false;
        return true;
      },
      std::chrono::seconds(60)));
  kcat_produce(b.bootstrap(), "ctk.raw", first, dir);
  const auto unique_count = [&] {
    return static_cast<std::size_t>(std::max(0L, topic_messages(b.bootstrap(), "ctk.unique")));
  };
  ASSERT_TRUE(wait_until([&] { return unique_count() >= 10000; }, std::chrono::seconds(120))) << d0->err();
  d0->signal(SIGKILL);
  EXPECT_EQ(d0->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  const std::size_t at_kill = unique_count();
  ASSERT_LT(at_kill, static_cast<std::size_t>(distinct)) << "the kill must land mid-stream";
  RecordProperty("unique_at_kill", static_cast<int>(at_kill));
  v1->signal(SIGTERM);  // one validator stops for good
  EXPECT_EQ(v1->wait(std::chrono::seconds(30)), 0) << v1->err();
  d0 = start(b, dir, "dedup", 0);
  kcat_produce(b.bootstrap(), "ctk.raw", second, dir);

  // Done when the validators committed all of raw and the dedups all of valid.
  std::int64_t valid_end = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        if (committed_sum(b.bootstrap(), "ctk.validator", "ctk.raw", 16) != total) return false;
        valid_end = topic_messages(b.bootstrap(), "ctk.valid");
        return valid_end > 0 && committed_sum(b.bootstrap(), "ctk.dedup", "ctk.valid", 16) == valid_end;
      },
      std::chrono::seconds(180)))
      << d0->err() << d1->err();

  std::string out;
  run("kcat -b " + b.bootstrap() + " -C -t ctk.unique -e -q -f '%k %p@%o\\n'", &out);
  std::map<std::string, int> seen;
  std::map<std::string, std::string> where;  // key -> partition@offset of each copy
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const auto sp = line.find(' ');
    const std::string k = line.substr(0, sp);
    ++seen[k];
    where[k] += " " + line.substr(sp + 1);
  }
  int doubled = 0;
  std::string examples;  // adjacent offsets point at a producer retry, distant ones at dedup
  for (const auto& [k, n] : seen)
    if (n > 1 && ++doubled <= 5) examples += "\n  " + k + ":" + where[k];
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(distinct)) << "every distinct record reached unique";
  EXPECT_EQ(doubled, 0) << "no record twice in unique; e.g." << examples << "\n" << d0->err() << d1->err();
  auto dl = kcat_values(b.bootstrap(), "ctk.deadletter");
  std::set<std::string> bad;
  for (const auto& d : dl) {
    auto at = d.find("\\\"symbol\\\":\\\"BAD");
    if (at != std::string::npos) bad.insert(d.substr(at, 24));
  }
  std::map<std::string, std::vector<std::string>> by_source;  // raw partition@offset -> actors
  for (const auto& d : dl) {
    auto field = [&](const std::string& k) {
      auto p = d.find("\"" + k + "\":");
      return p == std::string::npos
                 ? std::string()
                 : d.substr(p + k.size() + 3, d.find_first_of(",}", p + k.size() + 3) - p - k.size() - 3);
    };
    by_source[field("partition") + "@" + field("offset")].push_back(field("actor") + " at " + field("at"));
  }
  std::string doubles;
  for (const auto& [where, who] : by_source)
    if (who.size() > 1) {
      doubles += "  raw " + where + ":";
      for (const auto& w : who) doubles += " [" + w + "]";
      doubles += "\n";
    }
  EXPECT_EQ(dl.size(), static_cast<std::size_t>(invalid)) << "every invalid record dead-lettered once; doubled:\n"
                                                          << doubles;
  EXPECT_EQ(bad.size(), static_cast<std::size_t>(invalid));
  RecordProperty("valid_messages", static_cast<int>(valid_end));
  d0->signal(SIGTERM);
  d1->signal(SIGTERM);
  v0->signal(SIGTERM);
  EXPECT_EQ(d0->wait(std::chrono::seconds(30)), 0);
  EXPECT_EQ(d1->wait(std::chrono::seconds(30)), 0);
  EXPECT_EQ(v0->wait(std::chrono::seconds(30)), 0);
}

// The broker killed for good, then SIGTERM: dedup's last seal asks the
// broker for the end of `unique`, which librdkafka 2.0 waited for without
// end while the broker was down. It now gives up after its timeout, and
// the stop ends with the process.
TEST(dedup_faults, a_dedup_stopped_after_its_broker_died_exits_instead_of_hanging) {
  broker b;
  auto dir = temp_dir();
  auto v = start(b, dir, "validator", 0);
  auto d = start(b, dir, "dedup", 0);
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) lines.push_back("upbit/C" + std::to_string(i) + ":" + market(i));
  kcat_produce(b.bootstrap(), "ctk.raw", lines, dir);
  ASSERT_TRUE(wait_until([&] { return topic_messages(b.bootstrap(), "ctk.unique") == 200; }, std::chrono::seconds(60)))
      << d->err();
  const int rc = stop_after_broker_died(b, *d, std::chrono::seconds(120));
  EXPECT_GE(rc, 0) << "dedup did not exit within 120 s of SIGTERM with its broker gone\n" << d->err();
  v->signal(SIGKILL);
}
