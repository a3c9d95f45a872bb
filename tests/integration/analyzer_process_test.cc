// The analyzer as a real process in the real pipeline: kcat -> raw ->
// validator -> dedup -> unique -> analyzer -> insights -> db-sink ->
// PostgreSQL. A generated three-day price series for six symbols (5-minute
// ticks), news and fear & greed readings go in; the indicator rows equal an
// offline computation of the same series; an analyzer SIGKILLed mid-stream
// and restarted, and two analyzer instances, each leave every analysis
// table equal, row for row, to the uninterrupted single-instance run.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <csignal>
#include <random>
#include <sstream>

#include "actors/analyzer/indicators.h"
#include "actors/validator/normalize.h"
#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

using namespace ctk::test;
using namespace std::chrono;

namespace {

constexpr std::int64_t start_ms = 1725235200000;  // 2024-09-02T00:00:00Z
constexpr int days = 3, ticks_per_day = 288;      // one tick per 5-minute bucket
const std::vector<std::string> symbols{"KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA"};

struct tick {
  std::string symbol;
  std::int64_t t_ms;
  double price, volume;
};

std::string fmt_num(double x) {
  std::ostringstream o;
  o.precision(10);
  o << x;
  return o.str();
}

// A random walk per symbol with a few jumps (so that band breaks, RSI
// extremes and price-move insights happen); prices printed with 10 digits
// and read back, so the offline side uses exactly what the pipeline got.
std::vector<tick> generate() {
  std::vector<tick> out;
  for (std::size_t s = 0; s < symbols.size(); ++s) {
    std::mt19937 rng(static_cast<unsigned>(1000 + s));
    std::normal_distribution<double> step(0, 0.004);
    std::uniform_real_distribution<double> vol(1e3, 5e3);
    double p = 100.0 * static_cast<double>(s + 1);
    for (int k = 0; k < days * ticks_per_day; ++k) {
      p *= std::exp(step(rng) + (k % 97 == 50 ? 0.06 : k % 131 == 70 ? -0.07 : 0));
      const double price = std::stod(fmt_num(p)), volume = std::stod(fmt_num(vol(rng) * (k % 89 == 0 ? 8 : 1)));
      out.push_back(
          {symbols[s], start_ms + k * 300'000LL + 17'000LL * static_cast<std::int64_t>(s + 1), price, volume});
    }
  }
  return out;
}

struct raw_input {
  std::vector<std::string> market;  // placed by key (upbit/KRW-BTC), as the crawler places them
  std::vector<std::string> other;   // news and fear & greed: one partition, in order, as the crawler places a source's
};

// News every hour from 33 h 15 min to 72 h 15 min: past the end of the last
// closed candle by more than news_lateness, so every candle's insights are
// judged (the news watermark passes every candle's end).
constexpr std::int64_t news_from_ms = start_ms + 33 * 3'600'000LL + 15 * 60'000LL;

raw_input raw_lines(const std::vector<tick>& ticks) {
  raw_input in;
  std::vector<std::string>& lines = in.market;
  // Interleaved by time, as crawls of all symbols would bring them.
  std::vector<const tick*> order;
  for (const auto& t : ticks) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](auto a, auto b) { return a->t_ms < b->t_ms; });
  for (const tick* t : order)
    lines.push_back("upbit/" + t->symbol + ":" + R"({"v":1,"source":"upbit","kind":"market","fetched_at":")" +
                    ctk::validator::format_utc_ms(t->t_ms) + R"(","data":{"symbol":")" + t->symbol + R"(","price":)" +
                    fmt_num(t->price) + R"(,"volume_24h":)" + fmt_num(t->volume) +
                    R"(,"change_24h":0.01,"timestamp":)" + std::to_string(t->t_ms) + "}}");
  const std::vector<std::string> titles{"비트코인 급등, 사상 최고가 경신",
                                        "이더리움 급락에 투자자 불안",
                                        "리플 소송 승소",
                                        "Bitcoin ETF sees record inflows",
                                        "Solana network outage halts trading",
                                        "도지코인 보합세",
                                        "Ether rallies after upgrade",
                                        "거래소 해킹 피해"};
  for (int i = 0; i < 40; ++i)
    in.other.push_back("coinness/" + std::to_string(i) + ":" +
                       R"({"v":1,"source":"coinness","kind":"news","fetched_at":")" +
                       ctk::validator::format_utc_ms(news_from_ms + i * 3'600'000LL) + R"(","data":{"title":")" +
                       titles[static_cast<std::size_t>(i) % titles.size()] + " #" + std::to_string(i) +
                       R"(","url":"https://coinness.com/news/)" + std::to_string(i) + R"(","published_at":")" +
                       ctk::validator::format_utc_ms(news_from_ms + i * 3'600'000LL) + R"(","keywords":["BTC"]}})");
  for (int i = 0; i < 3; ++i)
    in.other.push_back("alternative_me/" + std::to_string(i) + ":" +
                       R"({"v":1,"source":"alternative_me","kind":"fear_greed","fetched_at":")" +
                       ctk::validator::format_utc_ms(start_ms + i * 86'400'000LL) + R"(","data":{"value":)" +
                       std::to_string(std::vector<int>{15, 50, 85}[static_cast<std::size_t>(i)]) +
                       R"(,"classification":"x","timestamp":")" +
                       ctk::validator::format_utc_ms(start_ms + i * 86'400'000LL) + "\"}}");
  return in;
}

// Closed candles per symbol and interval: every bucket but the last (still open).
constexpr long expected_indicators = 6 * ((days * ticks_per_day - 1) + (days * 24 - 1));

struct tables {
  std::string indicators, sentiment, insights;
};

tables dump(const std::string& dsn) {
  return {
      psql(dsn,
           "SELECT record_id, symbol, \\\"interval\\\", \\\"timestamp\\\", open, high, low, close, volume, records, "
           "sma_short, sma_long, ema_short, ema_long, rsi, macd, macd_signal, macd_hist, bb_upper, bb_middle, "
           "bb_lower, bb_percent_b, bb_bandwidth FROM technical_indicators ORDER BY record_id"),
      psql(dsn,
           "SELECT record_id, news_id, source, sentiment_score, sentiment_label, confidence, language, symbols, "
           "hits, \\\"timestamp\\\" FROM sentiment_analysis ORDER BY record_id"),
      psql(dsn,
           "SELECT record_id, symbol, insight_type, description, description_en, value, severity, "
           "\\\"interval\\\", related_news, \\\"timestamp\\\" FROM crypto_insights ORDER BY record_id")};
}

// One pipeline on a broker and a database of its own.
struct pipeline_run {
  broker b;
  std::string dir = temp_dir();
  std::string dsn = fresh_database(pg_fixture_dsn());
  std::map<std::string, std::string> env{{"CTK_POSTGRES__DSN", dsn},
                                         {"CTK_CONTROL__ROUTER", ""},      // no control plane
                                         {"CTK_ANALYZER__GRACE", "30d"}};  // ticks are from 2024: no wall-clock closes
  std::vector<std::unique_ptr<child>> procs;

  child& start(const std::string& actor, const std::string& tag, std::map<std::string, std::string> extra = {}) {
    auto e = env;
    for (auto& [k, v] : extra) e[k] = v;
    procs.push_back(std::make_unique<child>(
        std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                                 "--bootstrap", b.bootstrap(), "run", actor, "--node", "test", "--instance", tag},
        dir + "/" + actor + "-" + tag + ".out", dir + "/" + actor + "-" + tag + ".err", e));
    return *procs.back();
  }
  std::string logs() const {
    std::string s;
    for (const auto& p : procs) s += p->err().substr(p->err().size() > 3000 ? p->err().size() - 3000 : 0);
    return s;
  }
  long count(const std::string& table) {
    try {
      return psql_long(dsn, "SELECT count(*) FROM " + table);
    } catch (const std::exception&) {
      return -1;
    }
  }
  // Done: every indicator and sentiment row, the analyzer past all of
  // unique and db-sink past all of insights.
  bool done(long unique_total) {
    if (count("technical_indicators") != expected_indicators || count("sentiment_analysis") != 40) return false;
    if (committed_sum(b.bootstrap(), "ctk.analyzer", "ctk.unique", 16) != unique_total) return false;
    const long insights = topic_messages(b.bootstrap(), "ctk.insights");
    return insights > 0 && committed_sum(b.bootstrap(), "ctk.db-sink", "ctk.insights", 8) == insights;
  }
};

void feed(pipeline_run& r, const raw_input& in) {
  kcat_produce(r.b.bootstrap(), "ctk.raw", in.market, r.dir);
  kcat_produce(r.b.bootstrap(), "ctk.raw", in.other, r.dir, 0);
}

long unique_total(const raw_input& in) { return static_cast<long>(in.market.size() + in.other.size()); }

// A gauge of an actor process, from its metrics endpoint (the port is in its
// log: "metrics on http://127.0.0.1:PORT/metrics"); -1 when not readable.
double gauge(const child& c, const std::string& name) {
  const std::string log = c.err(), tag = "metrics on http://127.0.0.1:";
  const auto at = log.find(tag);
  if (at == std::string::npos) return -1;
  httplib::Client cli("127.0.0.1", std::stoi(log.substr(at + tag.size())));
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const auto line = res->body.find("\n" + name + "{");
  if (line == std::string::npos) return -1;
  const auto value = res->body.find("} ", line);
  return value == std::string::npos ? -1 : std::stod(res->body.substr(value + 2));
}

// The analyzers judged every candle (none waits for news), stop (SIGTERM:
// what they emitted is acknowledged before they exit), and db-sink stored
// all of it.
void finish(pipeline_run& r, const std::vector<child*>& analyzers) {
  for (child* a : analyzers) {
    ASSERT_TRUE(wait_until([&] { return gauge(*a, "ctk_analyzer_pending_candles") == 0; }, seconds(120)))
        << "candles still wait for news: " << gauge(*a, "ctk_analyzer_pending_candles") << "\n"
        << a->err();
    a->signal(SIGTERM);
  }
  for (child* a : analyzers) ASSERT_EQ(a->wait(seconds(60)), 0) << a->err();
  ASSERT_TRUE(wait_until(
      [&] {
        return committed_sum(r.b.bootstrap(), "ctk.db-sink", "ctk.insights", 8) ==
               topic_messages(r.b.bootstrap(), "ctk.insights");
      },
      seconds(60)))
      << r.logs();
}

void expect_near_rel(std::optional<double> got, std::optional<double> want, const std::string& what) {
  ASSERT_EQ(got.has_value(), want.has_value()) << what;
  if (want) {
    EXPECT_NEAR(*got, *want, 1e-9 * std::max(1.0, std::abs(*want))) << what;
  }
}

std::optional<double> cell(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return std::stod(s);
}

// The indicator rows of one symbol and interval against the batch forms
// over candles built here from the generated ticks.
void check_offline(const std::string& dsn, const std::vector<tick>& ticks, const std::string& symbol,
                   std::int64_t iv_ms, const std::string& iv) {
  std::vector<double> closes;
  std::vector<std::int64_t> buckets;
  for (const auto& t : ticks) {
    if (t.symbol != symbol) continue;
    const std::int64_t b = t.t_ms - t.t_ms % iv_ms;
    if (buckets.empty() || buckets.back() != b) {
      buckets.push_back(b);
      closes.push_back(t.price);
    } else {
      closes.back() = t.price;  // ticks come in time order: the last one closes
    }
  }
  closes.pop_back();  // the last candle is still open
  buckets.pop_back();
  const std::string rows = psql(dsn,
                                "SELECT close, sma_short, sma_long, ema_short, ema_long, rsi, macd, macd_signal, "
                                "bb_middle, bb_upper, bb_lower FROM technical_indicators WHERE symbol = '" +
                                    symbol + "' AND \\\"interval\\\" = '" + iv + "' ORDER BY \\\"timestamp\\\"");
  const auto sma20 = ctk::analyzer::sma_series(closes, 20), sma50 = ctk::analyzer::sma_series(closes, 50);
  const auto ema20 = ctk::analyzer::ema_series(closes, 20), ema50 = ctk::analyzer::ema_series(closes, 50);
  const auto rsi = ctk::analyzer::rsi_series(closes, 14);
  const auto e12 = ctk::analyzer::ema_series(closes, 12), e26 = ctk::analyzer::ema_series(closes, 26);
  std::vector<double> macd_values;
  for (std::size_t i = 25; i < closes.size(); ++i) macd_values.push_back(*e12[i] - *e26[i]);
  const auto signal = ctk::analyzer::ema_series(macd_values, 9);
  std::istringstream in(rows);
  std::size_t i = 0;
  for (std::string line; std::getline(in, line); ++i) {
    std::vector<std::string> c;
    std::istringstream cols(line);
    for (std::string f; std::getline(cols, f, '|');) c.push_back(f);
    c.resize(11);
    ASSERT_LT(i, closes.size());
    const std::string at = symbol + " " + iv + " candle " + std::to_string(i);
    EXPECT_EQ(std::stod(c[0]), closes[i]) << at;
    expect_near_rel(cell(c[1]), sma20[i], at + " sma_short");
    expect_near_rel(cell(c[2]), sma50[i], at + " sma_long");
    expect_near_rel(cell(c[3]), ema20[i], at + " ema_short");
    expect_near_rel(cell(c[4]), ema50[i], at + " ema_long");
    expect_near_rel(cell(c[5]), rsi[i], at + " rsi");
    expect_near_rel(cell(c[6]), e26[i] ? std::optional<double>(*e12[i] - *e26[i]) : std::nullopt, at + " macd");
    expect_near_rel(cell(c[7]), i >= 25 ? signal[i - 25] : std::nullopt, at + " macd_signal");
    if (sma20[i]) {
      double var = 0;
      for (std::size_t k = i - 19; k <= i; ++k) var += (closes[k] - *sma20[i]) * (closes[k] - *sma20[i]);
      const double sd = std::sqrt(var / 20);
      expect_near_rel(cell(c[8]), sma20[i], at + " bb_middle");
      expect_near_rel(cell(c[9]), *sma20[i] + 2 * sd, at + " bb_upper");
      expect_near_rel(cell(c[10]), *sma20[i] - 2 * sd, at + " bb_lower");
    }
  }
  EXPECT_EQ(i, closes.size()) << symbol << " " << iv << ": one row per closed candle";
}

void start_rest(pipeline_run& r) {
  r.start("validator", "0");
  r.start("dedup", "0");
  r.start("db-sink", "0");
}

}  // namespace

TEST(analyzer_process, indicators_equal_an_offline_computation_and_a_kill_or_a_second_instance_changes_no_row) {
  const auto ticks = generate();
  const auto lines = raw_lines(ticks);
  const long total = unique_total(lines);

  // 1. Uninterrupted, one instance: the reference.
  tables reference;
  {
    pipeline_run r;
    start_rest(r);
    child& a = r.start("analyzer", "0");
    feed(r, lines);
    ASSERT_TRUE(wait_until([&] { return r.done(total); }, seconds(240)))
        << r.count("technical_indicators") << " indicator rows\n"
        << r.logs();
    finish(r, {&a});
    for (const auto& s : symbols) {
      check_offline(r.dsn, ticks, s, 300'000, "5m");
      check_offline(r.dsn, ticks, s, 3'600'000, "1h");
    }
    EXPECT_EQ(r.count("sentiment_analysis"), 40);
    EXPECT_EQ(psql_long(r.dsn, "SELECT count(*) FROM sentiment_analysis WHERE sentiment_label = 'positive'"), 20)
        << "titles 0, 2, 3, 6 of every 8 are good news, 1, 4, 7 bad, 5 flat";
    EXPECT_EQ(psql(r.dsn,
                   "SELECT string_agg(DISTINCT insight_type, ',' ORDER BY insight_type) FROM crypto_insights WHERE "
                   "symbol IS NULL"),
              "extreme_fear,extreme_greed");
    EXPECT_GT(r.count("crypto_insights"), 20) << "band breaks, RSI extremes and moves in a series with jumps";
    // Every news item names BTC (keyword): a BTC candle insight after the
    // news began carries the window's newest items, the newest first.
    EXPECT_GT(psql_long(r.dsn,
                        "SELECT count(*) FROM crypto_insights WHERE symbol = 'KRW-BTC' AND "
                        "jsonb_array_length(related_news) > 0"),
              0);
    EXPECT_EQ(
        psql_long(r.dsn, "SELECT count(*) FROM crypto_insights WHERE symbol = 'KRW-BTC' AND \\\"timestamp\\\" < '" +
                             ctk::validator::format_utc_ms(news_from_ms - 3'600'000) +
                             "' AND jsonb_array_length(related_news) > 0"),
        0)
        << "no news before the first item";
    EXPECT_GT(psql_long(r.dsn, "SELECT count(*) FROM crypto_insights WHERE insight_type LIKE 'news_mood_%'"), 0)
        << psql(r.dsn, "SELECT insight_type, symbol, value FROM crypto_insights WHERE insight_type LIKE 'news%'");
    reference = dump(r.dsn);
  }

  // 2. The analyzer SIGKILLed mid-stream, then started again.
  {
    pipeline_run r;
    start_rest(r);
    // Small batches, one at a time: the kill lands between commits.
    const std::map<std::string, std::string> slow{{"CTK_RUNTIME__BATCH_MAX_MESSAGES", "20"},
                                                  {"CTK_RUNTIME__MAX_INFLIGHT_BATCHES", "1"}};
    child& first = r.start("analyzer", "0", slow);
    feed(r, lines);
    ASSERT_TRUE(wait_until(
        [&] { return committed_sum(r.b.bootstrap(), "ctk.analyzer", "ctk.unique", 16) >= total / 4; }, seconds(120)))
        << r.logs();
    first.signal(SIGKILL);
    first.wait(seconds(10));
    const long at_kill = committed_sum(r.b.bootstrap(), "ctk.analyzer", "ctk.unique", 16);
    EXPECT_LT(at_kill, total) << "killed after it had finished: not mid-stream";
    child& again = r.start("analyzer", "0-restarted");
    ASSERT_TRUE(wait_until([&] { return r.done(total); }, seconds(240))) << r.logs();
    finish(r, {&again});
    const tables t = dump(r.dsn);
    EXPECT_TRUE(t.indicators == reference.indicators) << "technical_indicators differ after a SIGKILL at " << at_kill;
    EXPECT_TRUE(t.sentiment == reference.sentiment) << "sentiment_analysis differs";
    EXPECT_TRUE(t.insights == reference.insights) << "crypto_insights differ";
  }

  // 3. Two instances sharing the partitions.
  {
    pipeline_run r;
    start_rest(r);
    child& a = r.start("analyzer", "0");
    child& b = r.start("analyzer", "1");
    feed(r, lines);
    ASSERT_TRUE(wait_until([&] { return r.done(total); }, seconds(240))) << r.logs();
    finish(r, {&a, &b});
    const tables t = dump(r.dsn);
    EXPECT_TRUE(t.indicators == reference.indicators) << "technical_indicators differ with two instances";
    EXPECT_TRUE(t.sentiment == reference.sentiment) << "sentiment_analysis differs";
    EXPECT_TRUE(t.insights == reference.insights) << "crypto_insights differ";
  }
}
