#include <gtest/gtest.h>

#include "actors/dedup/seen_set.h"
#include "messages/envelope.h"

using namespace ctk::dedup;

TEST(record_id_parsing, takes_32_lower_hex_and_nothing_else) {
  auto id = parse_id("0123456789abcdef0011223344556677");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->hi, 0x0123456789abcdefULL);
  EXPECT_EQ(id->lo, 0x0011223344556677ULL);
  EXPECT_FALSE(parse_id(""));
  EXPECT_FALSE(parse_id("0123456789ABCDEF0011223344556677"));
  EXPECT_FALSE(parse_id("0123456789abcdef001122334455667"));
  EXPECT_FALSE(parse_id("0123456789abcdef00112233445566zz"));
}

TEST(seen_set, a_duplicate_within_the_ttl_is_seen_and_after_it_is_not) {
  seen_set s(1000, 7 * 86400 * 1000LL);
  const auto id = *parse_id(ctk::msg::record_id("upbit", "KRW-BTC|t"));
  EXPECT_FALSE(s.contains(id, 100));
  s.insert(id, 100 + s.ttl_s());
  EXPECT_TRUE(s.contains(id, 101));
  EXPECT_TRUE(s.contains(id, 100 + s.ttl_s() - 1));
  EXPECT_FALSE(s.contains(id, 100 + s.ttl_s()));
}

TEST(seen_set, stays_within_its_bound_dropping_expired_ids_first) {
  seen_set s(1000, 1000 * 1000LL);
  for (int i = 0; i < 500; ++i) s.insert(*parse_id(ctk::msg::record_id("old", std::to_string(i))), 50);
  std::size_t evicted = 0;
  for (int i = 0; i < 1500; ++i) evicted += s.insert(*parse_id(ctk::msg::record_id("new", std::to_string(i))), 2000);
  EXPECT_LE(s.size(), 1000u);
  EXPECT_GE(evicted, 500u);
  EXPECT_FALSE(s.contains(*parse_id(ctk::msg::record_id("old", "1")), 1000)) << "expired ids went first";
  EXPECT_TRUE(s.contains(*parse_id(ctk::msg::record_id("new", "1499")), 1000)) << "the newest is kept";
}

TEST(seen_set, one_million_ids_fit_in_64_megabytes) {
  seen_set s(2'000'000, 7 * 86400 * 1000LL);
  for (int i = 0; i < 1'000'000; ++i) s.insert(*parse_id(ctk::msg::record_id("s", std::to_string(i))), 1'000'000);
  EXPECT_EQ(s.size(), 1'000'000u);
  EXPECT_LT(s.memory_bytes(), 64u << 20) << s.memory_bytes();
  RecordProperty("bytes_for_1M_ids", static_cast<int>(s.memory_bytes()));
}
