// Schedules: every / daily in a zone / cron, and next_after().
#include "actors/scheduler/schedule.h"

#include <gtest/gtest.h>

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
