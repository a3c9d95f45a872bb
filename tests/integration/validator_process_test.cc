// `cointicker run validator` as a real process on the embedded broker.
#include <gtest/gtest.h>

#include <csignal>
#include <set>

#include "brokers/kafka.h"
#include "tests/integration/helpers.h"

using namespace ctk::test;

TEST(validator_process, valid_records_reach_valid_keyed_by_id_and_the_rest_are_dead_lettered_once) {
  broker b;
  auto dir = temp_dir();
  std::vector<std::string> lines;
  const int good = 300, bad = 100;
  for (int i = 0; i < good; ++i)
    lines.push_back(
        "upbit/KRW-C" + std::to_string(i) +
        R"(:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z","data":{"symbol":"krw-c)" +
        std::to_string(i) + R"(","price":"1.5","volume_24h":2,"change_24h":0.01,"timestamp":1725543306000}})");
  for (int i = 0; i < bad; ++i)
    lines.push_back(
        "upbit/bad" + std::to_string(i) +
        R"(:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z","data":{"symbol":"X","price":-)" +
        std::to_string(i + 1) + R"(,"volume_24h":2,"change_24h":0,"timestamp":1725543306000}})");
  lines.push_back("junk:this is not json");
  kcat_produce(b.bootstrap(), "ctk.raw", lines, dir);

  child v({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "--bootstrap",
           b.bootstrap(), "run", "validator", "--node", "test"},
          dir + "/v.out", dir + "/v.err");
  ASSERT_TRUE(wait_until(
      [&] {
        return kcat_values(b.bootstrap(), "ctk.valid").size() == good &&
               kcat_values(b.bootstrap(), "ctk.deadletter").size() == bad + 1;
      },
      std::chrono::seconds(60)))
      << v.err();
  v.signal(SIGTERM);
  EXPECT_EQ(v.wait(std::chrono::seconds(30)), 0) << v.err();

  std::string out;
  run("kcat -b " + b.bootstrap() + " -C -t ctk.valid -e -q -f '%k %s\\n'", &out);
  std::istringstream in(out);
  std::set<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    const std::string key = line.substr(0, line.find(' '));
    EXPECT_EQ(key.size(), 32u);
    EXPECT_NE(line.find(R"("id":")" + key + "\""), std::string::npos) << "the key is the record id";
    EXPECT_NE(line.find(R"("symbol":"KRW-C)"), std::string::npos) << "symbols upper-cased";
    EXPECT_NE(line.find(R"("price":1.5,)"), std::string::npos) << "numbers from strings";
    ids.insert(key);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(good));
  auto dl = kcat_values(b.bootstrap(), "ctk.deadletter");
  int price = 0, decode = 0;
  for (const auto& d : dl) {
    price += d.find(R"("rule":"price_positive")") != std::string::npos;
    decode += d.find(R"("rule":"decode")") != std::string::npos &&
              d.find(R"("original":"this is not json")") != std::string::npos;
    EXPECT_NE(d.find(R"("actor":"test/validator/0")"), std::string::npos) << d;
  }
  EXPECT_EQ(price, bad);
  EXPECT_EQ(decode, 1);
}
