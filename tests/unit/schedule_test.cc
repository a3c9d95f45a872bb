// Schedules: every / daily in a zone / cron, and next_after(); freshness.
#include "actors/scheduler/schedule.h"

#include <gtest/gtest.h>

#include "actors/scheduler/freshness.h"
#include "actors/validator/normalize.h"

using ctk::scheduler::schedule;

namespace {
std::int64_t at(const char* iso) {
  std::string why;
  return *ctk::validator::parse_time_ms(iso, "UTC", why);
}
std::string iso(std::int64_t ms) { return ctk::validator::format_utc_ms(ms); }
schedule make(ctk::cfg::schedule_settings s) {
  std::string why;
  auto r = schedule::parse(s, why);
  EXPECT_TRUE(r) << why;
  return *r;
}
}  // namespace

TEST(schedule, every_is_anchored_to_the_previous_firing) {
  auto s = make({.every = "2m"});
  EXPECT_EQ(iso(s.next_after(at("2026-11-29T10:00:07.500Z"))), "2026-11-29T10:02:07.500Z");
  EXPECT_EQ(make({.every = "2s"}).next_after(1000), 3000);
}

TEST(schedule, daily_in_kst_is_the_next_local_time_of_day) {
  auto s = make({.daily = "09:00", .timezone = "Asia/Seoul"});  // 00:00 UTC
  EXPECT_EQ(iso(s.next_after(at("2026-11-28T23:59:00Z"))), "2026-11-29T00:00:00.000Z");
  EXPECT_EQ(iso(s.next_after(at("2026-11-29T00:00:00Z"))), "2026-11-30T00:00:00.000Z") << "strictly after";
  auto utc = make({.daily = "00:10"});
  EXPECT_EQ(iso(utc.next_after(at("2026-11-29T00:09:59Z"))), "2026-11-29T00:10:00.000Z");
  EXPECT_EQ(iso(utc.next_after(at("2026-11-29T13:00:00Z"))), "2026-11-30T00:10:00.000Z");
}

// Any IANA zone, with its daylight saving time: Berlin is UTC+1 in winter,
// UTC+2 in summer; New York's clocks skip 02:00-03:00 on 2026-03-08.
TEST(schedule, iana_zones_follow_daylight_saving_time) {
  auto berlin = make({.daily = "09:00", .timezone = "Europe/Berlin"});
  EXPECT_EQ(iso(berlin.next_after(at("2026-01-15T12:00:00Z"))), "2026-01-16T08:00:00.000Z");
  EXPECT_EQ(iso(berlin.next_after(at("2026-07-15T12:00:00Z"))), "2026-07-16T07:00:00.000Z");
  // The night the clocks go forward (2026-03-29): the next 09:00 is already summer time.
  EXPECT_EQ(iso(berlin.next_after(at("2026-03-28T12:00:00Z"))), "2026-03-29T07:00:00.000Z");
  auto ny = make({.cron = "30 2 * * *", .timezone = "America/New_York"});
  // 02:30 does not exist on 2026-03-08: it fires when the clocks jump (03:00 EDT, 07:00 UTC).
  EXPECT_EQ(iso(ny.next_after(at("2026-03-08T05:00:00Z"))), "2026-03-08T07:00:00.000Z");
  EXPECT_EQ(iso(ny.next_after(at("2026-03-09T00:00:00Z"))), "2026-03-09T06:30:00.000Z");
  auto kst = make({.daily = "09:00", .timezone = "KST"});
  EXPECT_EQ(iso(kst.next_after(at("2026-11-28T23:59:00Z"))), "2026-11-29T00:00:00.000Z");
}

TEST(schedule, cron_fields_steps_ranges_lists_and_weekdays) {
  auto every5 = make({.cron = "*/5 * * * *"});
  EXPECT_EQ(iso(every5.next_after(at("2026-11-29T10:02:30Z"))), "2026-11-29T10:05:00.000Z");
  EXPECT_EQ(iso(every5.next_after(at("2026-11-29T10:05:00Z"))), "2026-11-29T10:10:00.000Z");
  auto weekdays = make({.cron = "30 9 * * 1-5", .timezone = "+09:00"});  // 09:30 KST, Monday to Friday
  // 2026-11-29 is a Sunday: the next is Monday 09:30 KST = 00:30 UTC.
  EXPECT_EQ(iso(weekdays.next_after(at("2026-11-29T01:00:00Z"))), "2026-11-30T00:30:00.000Z");
  auto list = make({.cron = "0 0,12 1 * *"});
  EXPECT_EQ(iso(list.next_after(at("2026-11-29T00:00:00Z"))), "2026-12-01T00:00:00.000Z");
  auto sunday7 = make({.cron = "0 8 * * 7"});
  EXPECT_EQ(iso(sunday7.next_after(at("2026-11-28T00:00:00Z"))), "2026-11-29T08:00:00.000Z");
}

TEST(schedule, bad_schedules_are_refused_with_a_reason) {
  std::string why;
  EXPECT_FALSE(schedule::parse({}, why));
  EXPECT_EQ(why, "no schedule (every, daily or cron)");
  EXPECT_FALSE(schedule::parse({.every = "0s"}, why));
  EXPECT_FALSE(schedule::parse({.daily = "25:00"}, why));
  EXPECT_FALSE(schedule::parse({.cron = "61 * * * *"}, why));
  EXPECT_EQ(why, "cron: '61' is outside 0..59");
  EXPECT_FALSE(schedule::parse({.cron = "* * *"}, why));
  EXPECT_FALSE(schedule::parse({.cron = "*/0 * * * *"}, why));
  EXPECT_FALSE(schedule::parse({.every = "1m", .timezone = "Europe/Berlni"}, why));
  EXPECT_NE(why.find("unknown time zone 'Europe/Berlni'"), std::string::npos) << why;
}

// Freshness: thresholds from the schedule (or the source's own), and the
// state from the newest stored record's age and the failed crawls in a row.
namespace {
ctk::msg::crawl_report report(const std::string& status) {
  static int n = 0;
  ctk::msg::crawl_report r;
  r.id = "crawl-" + std::to_string(++n);  // the book counts each report id once
  r.source = "upbit";
  r.status = status;
  r.error = status == "ok" ? "" : "HTTP 500";
  return r;
}
std::string state_at(ctk::scheduler::freshness_book& book, std::int64_t newest, std::int64_t now) {
  const std::map<std::string, std::int64_t> stored{{"upbit", newest}};
  for (const auto& s : book.evaluate(stored, now))
    if (s.source == "upbit") return s.state;
  return "?";
}
}  // namespace

TEST(freshness, thresholds_follow_the_schedule_unless_the_source_sets_them) {
  ctk::cfg::source_settings s;
  s.schedule.every = "2m";
  auto r = ctk::scheduler::rules_for(s, make(s.schedule), at("2026-11-29T10:00:00Z"));
  EXPECT_EQ(r.late_after_ms, 4 * 60'000);
  EXPECT_EQ(r.stale_after_ms, 10 * 60'000);
  // Weekdays at 09:00: the longest gap ahead (Friday to Monday, 3 days) sets the pace.
  s.schedule = {.cron = "0 9 * * 1-5", .timezone = "UTC"};
  r = ctk::scheduler::rules_for(s, make(s.schedule), at("2026-11-29T10:00:00Z"));
  EXPECT_EQ(r.late_after_ms, 2 * 3 * 86'400'000LL);
  s.freshness.late_after = "1h";
  s.freshness.stale_after = "6h";
  r = ctk::scheduler::rules_for(s, make(s.schedule), at("2026-11-29T10:00:00Z"));
  EXPECT_EQ(r.late_after_ms, 3'600'000);
  EXPECT_EQ(r.stale_after_ms, 6 * 3'600'000);
  // No schedule and no thresholds: nothing is expected of a manual source.
  EXPECT_EQ(ctk::scheduler::rules_for(ctk::cfg::source_settings{}, std::nullopt, 0).late_after_ms, 0);
}

TEST(freshness, a_source_goes_late_then_stale_by_age_or_failures_and_fresh_again) {
  const std::int64_t t0 = at("2026-11-29T10:00:00Z");
  ctk::cfg::source_settings s;
  s.schedule.every = "1m";  // late after 2 m, stale after 5 m, or after 3 failed crawls
  ctk::scheduler::freshness_book book(t0);
  book.add("upbit", s, make(s.schedule));
  EXPECT_EQ(state_at(book, t0, t0 + 60'000), "fresh");
  EXPECT_EQ(state_at(book, t0, t0 + 121'000), "late");
  EXPECT_EQ(state_at(book, t0, t0 + 301'000), "stale");
  EXPECT_EQ(state_at(book, t0 + 300'000, t0 + 301'000), "fresh") << "a new record makes it fresh";
  const auto twice = report("failed");
  book.on_report(twice, t0);
  book.on_report(twice, t0);  // read again (group and follower): still one
  book.on_report(report("failed"), t0);
  EXPECT_EQ(state_at(book, t0, t0 + 1'000), "fresh") << "two failures are not yet three";
  book.on_report(report("failed"), t0);
  EXPECT_EQ(state_at(book, t0, t0 + 1'000), "stale") << "three failed crawls in a row";
  book.on_report(report("ok"), t0);
  EXPECT_EQ(state_at(book, t0, t0 + 1'000), "fresh");
  // No record stored yet: the age counts from the scheduler's start.
  EXPECT_EQ(book.evaluate({}, t0 + 121'000).front().state, "late");
  ctk::cfg::source_settings off;
  off.enabled = false;
  book.add("cnn", off, std::nullopt);
  EXPECT_EQ(book.evaluate({}, t0 + 10 * 86'400'000LL).front().state, "disabled");
  EXPECT_EQ(book.evaluate({}, t0).front().age_s, -1);
}
