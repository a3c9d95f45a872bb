// Envelopes as they stand on `unique` (validated, with ids), for sink tests.
#pragma once

#include <cstdio>
#include <string>

namespace ctk::test {

// A 32-hex record id made from a number.
inline std::string test_id(long i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016lx%016lx", 0xc0ffeeUL, static_cast<unsigned long>(i));
  return buf;
}

inline std::string unique_market(long i, double price = -0.0, const std::string& day = "2026-11-28") {
  if (price == 0) price = 100.0 + static_cast<double>(i % 1000);
  return R"({"v":1,"id":")" + test_id(i) + R"(","source":"upbit","kind":"market","fetched_at":")" + day +
         R"(T10:00:00.000Z","url":"","trace":"test","data":{"symbol":"KRW-C)" + std::to_string(i) + R"(","price":)" +
         std::to_string(price) + R"(,"volume_24h":12.5,"change_24h":0.0108,"timestamp":")" + day +
         R"(T09:59:59.000Z"}})";
}

inline std::string unique_news(long i, const std::string& title, const std::string& day = "2026-11-28") {
  return R"({"v":1,"id":")" + test_id(i) + R"(","source":"coinness","kind":"news","fetched_at":")" + day +
         R"(T10:00:00.000Z","url":"https://coinness.com/news/)" + std::to_string(i) +
         R"(","trace":"test","data":{"title":")" + title + R"(","url":"https://coinness.com/news/)" +
         std::to_string(i) + R"(","content":"body","published_at":")" + day +
         R"(T08:00:00.000Z","keywords":["btc","etf"]}})";
}

inline std::string unique_fear_greed(long i, int value) {
  return R"({"v":1,"id":")" + test_id(i) +
         R"(","source":"alternative_me","kind":"fear_greed","fetched_at":"2026-11-28T10:00:00.000Z","data":{"value":)" +
         std::to_string(value) + R"(,"classification":"Greed","timestamp":"2026-11-28T00:00:00.000Z"}})";
}

// "key:value" lines for kcat_produce (key = the record id).
inline std::string keyed(long i, const std::string& value) { return test_id(i) + ":" + value; }

}  // namespace ctk::test
