// The analyzer's pieces on their own: indicators against published worked
// examples and their defining properties, candles, snapshots, and the
// sentiment rules (Korean endings, negation, hostile text).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "actors/analyzer/indicators.h"
#include "actors/analyzer/insights.h"
#include "actors/analyzer/news.h"
#include "actors/analyzer/sentiment.h"
#include "messages/json.h"
#include "tests/support/process.h"

using namespace ctk::analyzer;

namespace {

// Published data, StockCharts ChartSchool (the spreadsheets behind
// "Relative Strength Index (RSI)", "Moving Averages - Simple and
// Exponential" and "Bollinger Bands"), as reproduced in many libraries' tests.
const std::vector<double> rsi_closes{44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433,
                                     46.0826, 45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116,
                                     46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288,
                                     44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314};
const std::vector<double> rsi_published{70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38,
                                        54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77};
const std::vector<double> ema_closes{22.2734, 22.194,  22.0847, 22.1741, 22.184,  22.1344, 22.2337, 22.4323,
                                     22.2436, 22.2933, 22.1542, 22.3926, 22.3816, 22.6109, 23.3558, 24.0519,
                                     23.753,  23.8324, 23.9516, 23.6338, 23.8225, 23.8722, 23.6537, 23.187,
                                     23.0976, 23.326,  22.6805, 23.0976, 22.4025, 22.1725};
const std::vector<double> ema10_published{22.22, 22.21, 22.24, 22.27, 22.33, 22.52, 22.80, 22.97, 23.13, 23.28, 23.34,
                                          23.43, 23.51, 23.54, 23.47, 23.40, 23.39, 23.26, 23.23, 23.08, 22.92};
const std::vector<double> bb_closes{86.1557, 89.0867, 88.7829, 90.3228, 89.0671, 91.1453, 89.4397, 89.1750, 86.9302,
                                    87.6752, 86.9596, 89.4299, 89.3221, 88.7241, 87.4497, 87.2634, 89.4985, 87.9006,
                                    89.1260, 90.7043, 92.9001, 92.9784, 91.8021, 92.6647, 92.6843, 92.3021, 92.7725,
                                    92.5373, 92.9490, 93.2039, 91.0669, 89.8318, 89.7435, 90.3994, 90.7387, 88.0177,
                                    88.0867, 88.8439, 90.7781, 90.5416, 91.3894, 90.6500};
const std::vector<double> bb_middle{88.71, 89.05, 89.24, 89.39, 89.51, 89.69, 89.75, 89.91};
const std::vector<double> bb_upper{91.29, 91.95, 92.61, 92.93, 93.31, 93.73, 93.90, 94.27};
const std::vector<double> bb_lower{86.12, 86.14, 85.87, 85.85, 85.70, 85.65, 85.59, 85.56};

double round2(double x) { return std::round(x * 100) / 100; }

// Feeds closes through the streaming series, one candle each.
std::vector<ctk::msg::indicator_data> stream(const std::vector<double>& closes, const periods& p) {
  series_state s;
  std::vector<ctk::msg::indicator_data> out;
  for (std::size_t i = 0; i < closes.size(); ++i) {
    s.open.bucket = static_cast<std::int64_t>(i) * 60000;
    s.open.add(s.open.bucket, closes[i], 1);
    out.push_back(close_candle(s, p, "TEST", "1m").row);
  }
  return out;
}

periods with_rsi(int n) {
  periods p;
  p.rsi = n;
  return p;
}

}  // namespace

TEST(indicators, wilders_rsi_14_reproduces_the_published_stockcharts_example_to_two_decimals) {
  const auto rows = stream(rsi_closes, with_rsi(14));
  for (std::size_t i = 0; i < 14; ++i) EXPECT_FALSE(rows[i].rsi) << i;
  for (std::size_t k = 0; k < rsi_published.size(); ++k) {
    ASSERT_TRUE(rows[14 + k].rsi) << k;
    EXPECT_EQ(round2(*rows[14 + k].rsi), rsi_published[k]) << "RSI at close " << 14 + k;
  }
}

TEST(indicators, the_ema_seeded_with_the_sma_reproduces_the_published_stockcharts_example) {
  periods p;
  p.ema_short = 10;
  const auto rows = stream(ema_closes, p);
  for (std::size_t i = 0; i < 9; ++i) EXPECT_FALSE(rows[i].ema_short);
  for (std::size_t k = 0; k < ema10_published.size(); ++k)
    EXPECT_EQ(round2(*rows[9 + k].ema_short), ema10_published[k]) << "EMA at close " << 9 + k;
}

TEST(indicators, bollinger_20_2_reproduces_the_published_stockcharts_example) {
  const auto rows = stream(bb_closes, periods{});
  for (std::size_t i = 0; i < 19; ++i) EXPECT_FALSE(rows[i].bb_middle);
  for (std::size_t k = 0; k < bb_middle.size(); ++k) {
    EXPECT_EQ(round2(*rows[19 + k].bb_middle), bb_middle[k]) << k;
    EXPECT_EQ(round2(*rows[19 + k].bb_upper), bb_upper[k]) << k;
    EXPECT_EQ(round2(*rows[19 + k].bb_lower), bb_lower[k]) << k;
  }
}

// No published MACD table with numbers was found in the sources reachable
// here; MACD is checked against its definition over the EMA that the
// published example above fixes: EMA(12) - EMA(26), signal = EMA(9) of the
// MACD values (each seeded with its first SMA), histogram = the difference.
TEST(indicators, macd_12_26_9_is_the_difference_of_the_published_emas_and_its_signal_their_ema) {
  const auto rows = stream(bb_closes, periods{});
  const auto fast = ema_series(bb_closes, 12), slow = ema_series(bb_closes, 26);
  std::vector<double> macd;
  for (std::size_t i = 0; i < bb_closes.size(); ++i) {
    if (!slow[i]) {
      EXPECT_FALSE(rows[i].macd) << i;
      continue;
    }
    ASSERT_TRUE(rows[i].macd);
    EXPECT_NEAR(*rows[i].macd, *fast[i] - *slow[i], 1e-9);
    macd.push_back(*fast[i] - *slow[i]);
  }
  const auto signal = ema_series(macd, 9);
  for (std::size_t k = 0; k < macd.size(); ++k) {
    const auto& r = rows[25 + k];
    if (!signal[k]) {
      EXPECT_FALSE(r.macd_signal) << k;
      continue;
    }
    ASSERT_TRUE(r.macd_signal && r.macd_hist);
    EXPECT_NEAR(*r.macd_signal, *signal[k], 1e-9);
    EXPECT_NEAR(*r.macd_hist, *r.macd - *r.macd_signal, 1e-12);
  }
  EXPECT_TRUE(rows.back().macd_hist) << "42 closes are enough for 26 + 9 - 1";
}

TEST(indicators, rsi_stays_within_0_and_100_and_streaming_equals_the_batch_forms) {
  std::mt19937 rng(7);
  std::normal_distribution<double> step(0, 1);
  std::vector<double> x{100};
  for (int i = 0; i < 2000; ++i) x.push_back(std::max(1.0, x.back() + step(rng)));
  periods p;
  const auto rows = stream(x, p);
  const auto rsi = rsi_series(x, p.rsi), sma = sma_series(x, p.sma_short), ema = ema_series(x, p.ema_long);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (rows[i].rsi) {
      EXPECT_GE(*rows[i].rsi, 0);
      EXPECT_LE(*rows[i].rsi, 100);
      EXPECT_NEAR(*rows[i].rsi, *rsi[i], 1e-9);
    }
    ASSERT_EQ(rows[i].sma_short.has_value(), sma[i].has_value());
    if (sma[i]) {
      EXPECT_NEAR(*rows[i].sma_short, *sma[i], 1e-9);
    }
    if (ema[i]) {
      EXPECT_NEAR(*rows[i].ema_long, *ema[i], 1e-9);
    }
    if (rows[i].bb_middle) {
      EXPECT_DOUBLE_EQ(*rows[i].bb_middle, *rows[i].sma_short) << "Bollinger middle = SMA(20)";
    }
  }
}

TEST(indicators, the_ema_of_a_constant_series_is_that_constant_and_its_rsi_is_neutral) {
  const auto rows = stream(std::vector<double>(80, 42.5), periods{});
  EXPECT_DOUBLE_EQ(*rows.back().ema_short, 42.5);
  EXPECT_DOUBLE_EQ(*rows.back().ema_long, 42.5);
  EXPECT_DOUBLE_EQ(*rows.back().rsi, 50);
  EXPECT_DOUBLE_EQ(*rows.back().macd, 0);
  EXPECT_FALSE(rows.back().bb_percent_b) << "zero-width bands have no %b";
}

TEST(indicators, a_series_restored_from_its_snapshot_continues_exactly_as_an_uninterrupted_one) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> price(90, 110);
  std::vector<double> x;
  for (int i = 0; i < 300; ++i) x.push_back(price(rng));
  const auto whole = stream(x, periods{});
  series_state s;
  std::vector<ctk::msg::indicator_data> resumed;
  ctk::msg::json_decoder dec;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (i % 37 == 0) {  // through the codec, as analyzer.state carries it
      std::string json;
      ASSERT_TRUE(ctk::msg::encode(s, json));
      series_state back;
      ctk::msg::decode_error err;
      ASSERT_TRUE(dec.decode(json, back, err)) << err.to_string();
      s = back;
    }
    s.open.bucket = static_cast<std::int64_t>(i) * 60000;
    s.open.add(s.open.bucket, x[i], 1);
    resumed.push_back(close_candle(s, periods{}, "TEST", "1m").row);
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::string a, b;
    ctk::msg::encode(whole[i], a);
    ctk::msg::encode(resumed[i], b);
    EXPECT_EQ(a, b) << i;
  }
}

TEST(candles, records_out_of_order_within_a_bucket_take_open_and_close_by_their_own_time) {
  candle c;
  c.bucket = 0;
  c.add(3000, 12, 100);
  c.add(1000, 10, 90);
  c.add(5000, 11, 120);
  c.add(2000, 15, 95);
  EXPECT_EQ(c.open, 10);
  EXPECT_EQ(c.close, 11);
  EXPECT_EQ(c.high, 15);
  EXPECT_EQ(c.low, 10);
  EXPECT_EQ(c.volume, 120) << "the rolling 24 h volume as of the latest record";
  EXPECT_EQ(c.records, 4);
}

namespace {
const sentiment_scorer& scorer() {
  static const sentiment_scorer s = [] {
    std::vector<lexicon_error> errors;
    const std::string dir = std::string(CTK_SOURCE_DIR) + "/config/";
    auto sc = sentiment_scorer::load(
        {dir + "lexicons/ko.tsv", dir + "../deploy/npm/node_modules/afinn-165-financialmarketnews/index.js",
         dir + "lexicons/en.tsv", dir + "lexicons/symbols.tsv"},
        0.1, errors);
    for (const auto& e : errors) ADD_FAILURE() << e.to_string();
    return sc;
  }();
  return s;
}
}  // namespace

TEST(sentiment, korean_particles_and_endings_are_stripped_before_lookup) {
  for (const char* w : {"급등", "급등했다", "급등세", "급등에", "급등세로", "급등하며"})
    EXPECT_EQ(scorer().korean_stem(w), "급등") << w;
  EXPECT_EQ(scorer().korean_stem("상장폐지"), "상장폐지") << "the longest entry wins over 상장";
  EXPECT_EQ(scorer().korean_stem("동반하락"), "하락");
  EXPECT_EQ(scorer().korean_stem("비트코인"), "");
}

TEST(sentiment, negation_flips_and_intensifiers_strengthen_in_both_languages) {
  const auto& s = scorer();
  EXPECT_EQ(s.score("비트코인 급등", "", {}, 0).label, "positive");
  EXPECT_EQ(s.score("비트코인 상승하지 않았다", "", {}, 0).label, "negative");
  EXPECT_GT(s.score("Bitcoin surges sharply", "", {}, 0).score, s.score("Bitcoin surges", "", {}, 0).score);
  EXPECT_EQ(s.score("Bitcoin did not crash", "", {}, 0).label, "positive");
  EXPECT_LT(s.score("Ether falls slightly", "", {}, 0).score, 0);
  EXPECT_GT(s.score("Ether falls slightly", "", {}, 0).score, s.score("Ether falls", "", {}, 0).score);
}

TEST(sentiment, symbols_come_from_names_in_both_scripts_and_from_ticker_keywords) {
  const auto r =
      scorer().score("비트코인이 급등, 이더리움은 하락", "Solana traders watch", {"XRP", "not a ticker"}, 4096);
  EXPECT_EQ(r.symbols, (std::vector<std::string>{"BTC", "ETH", "SOL", "XRP"}));
  EXPECT_EQ(r.language, "ko");
  EXPECT_EQ(scorer().score("Bitcoin ETF approved", "", {}, 0).language, "en");
}

TEST(sentiment, hostile_text_scores_neutral_or_something_in_range_and_never_crashes) {
  const auto& s = scorer();
  const std::string huge(1 << 20, 'x');
  std::string invalid = "\xff\xfe\xc3 급등 \xe2\x82";
  std::string mixed = "비트코인 surges 急騰 🚀🚀 ₿ 100% 상승!!!";
  for (const auto& [title, body] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"", huge}, {huge, huge}, {invalid, invalid}, {mixed, std::string(300000, '\xff')}}) {
    const auto r = s.score(title, body, {}, 4096);
    EXPECT_GE(r.score, -1);
    EXPECT_LE(r.score, 1);
    EXPECT_GE(r.confidence, 0);
    EXPECT_LE(r.confidence, 1);
  }
  EXPECT_EQ(s.score("", "", {}, 4096).label, "neutral");
  EXPECT_EQ(s.score("", "", {}, 4096).confidence, 0);
  EXPECT_EQ(s.score(invalid, "", {}, 0).label, "positive") << "the valid word between broken bytes still counts";
}

TEST(sentiment, readers_votes_move_the_score_up_to_half_way_to_the_crowd) {
  auto r = scorer().score("도지코인 보합세", "", {}, 0);
  ASSERT_EQ(r.score, 0);
  blend_votes(r, 0, 0, 0.1);
  EXPECT_EQ(r.score, 0) << "no votes: unchanged";
  blend_votes(r, 30, 10, 0.1);
  EXPECT_DOUBLE_EQ(r.score, 0.5 * 0.5);
  EXPECT_EQ(r.label, "positive");
  auto neg = scorer().score("Bitcoin surges", "", {}, 0);
  const double before = neg.score;
  blend_votes(neg, 0, 2, 0.1);  // two votes: weight 0.05
  EXPECT_NEAR(neg.score, 0.95 * before - 0.05, 1e-12);
  EXPECT_EQ(neg.label, "positive") << "a couple of votes do not overturn the text";
}

TEST(sentiment, a_lexicon_error_names_file_line_and_column) {
  const std::string dir = ctk::test::temp_dir();
  std::ofstream(dir + "/ko.tsv") << "# comment\n상승\t2\n하락\tminus\n폭락\t-9\n상승\t1\nno tab here\n";
  std::ofstream(dir + "/en.tsv") << "moon\t2\n";
  std::ofstream(dir + "/sym.tsv") << "bitcoin\tbtc\n";
  std::vector<lexicon_error> errors;
  sentiment_scorer::load({dir + "/ko.tsv", dir + "/missing.js", dir + "/en.tsv", dir + "/sym.tsv"}, 0.1, errors);
  std::vector<std::string> got;
  for (const auto& e : errors) got.push_back(e.to_string());
  ASSERT_EQ(got.size(), 6u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], dir + "/ko.tsv:3:4: weight 'minus' is not a number");
  EXPECT_EQ(got[1], dir + "/ko.tsv:4:4: weight -9 is outside -5 .. 5");
  EXPECT_EQ(got[2], dir + "/ko.tsv:5:1: '상승' is listed twice (first at line 2)");
  EXPECT_EQ(got[3], dir + "/ko.tsv:6:1: expected word<TAB>value");
  EXPECT_NE(got[4].find(dir + "/missing.js: cannot be read"), std::string::npos) << got[4];
  EXPECT_EQ(got[5], dir + "/sym.tsv:1:9: symbol 'btc' is not 1-10 upper-case letters or digits");
}

// ---- news by symbol and the rules that join it with candles ----

TEST(news, a_source_s_late_item_is_not_kept_and_the_watermark_is_the_slowest_source_minus_the_lateness) {
  news_book b(15 * 60'000);
  EXPECT_EQ(b.watermark(), news_book::none);
  const std::int64_t h = 3'600'000;
  EXPECT_TRUE(b.add("coinness", 10 * h, 0.5, "a", {"BTC"}));
  EXPECT_EQ(b.watermark(), 10 * h - 15 * 60'000);
  EXPECT_TRUE(b.add("saveticker", 8 * h, -0.5, "b", {"BTC"}));
  EXPECT_EQ(b.watermark(), 8 * h - 15 * 60'000) << "the slowest source holds it back";
  EXPECT_TRUE(b.add("coinness", 10 * h - 10 * 60'000, 0.1, "c", {"BTC"})) << "10 min behind: within the lateness";
  EXPECT_FALSE(b.add("coinness", 9 * h, 0.9, "d", {"BTC"})) << "an hour behind its source's newest: late";
  EXPECT_EQ(b.watermark(), 8 * h - 15 * 60'000);
  const auto s = b.stats("BTC", 0, 11 * h);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.newest, (std::vector<std::string>{"a", "c", "b"}));
}

TEST(news, a_window_s_stats_do_not_depend_on_how_two_sources_interleave) {
  const std::int64_t m = 60'000;
  std::vector<std::tuple<std::string, std::int64_t, double, std::string>> a, b;
  for (int i = 0; i < 12; ++i) {
    a.emplace_back("coinness", i * 10 * m, 0.1 * (i % 5) - 0.2, "c" + std::to_string(i));
    b.emplace_back("saveticker", i * 10 * m, 0.3 - 0.07 * i, "s" + std::to_string(i));
  }
  news_book one(15 * m), two(15 * m);
  for (auto& x : a) one.add(std::get<0>(x), std::get<1>(x), std::get<2>(x), std::get<3>(x), {"ETH"});
  for (auto& x : b) one.add(std::get<0>(x), std::get<1>(x), std::get<2>(x), std::get<3>(x), {"ETH"});
  for (std::size_t i = 0; i < a.size(); ++i) {
    two.add(std::get<0>(b[i]), std::get<1>(b[i]), std::get<2>(b[i]), std::get<3>(b[i]), {"ETH"});
    two.add(std::get<0>(a[i]), std::get<1>(a[i]), std::get<2>(a[i]), std::get<3>(a[i]), {"ETH"});
  }
  for (std::int64_t end = 0; end <= 120 * m; end += 5 * m) {
    const auto x = one.stats("ETH", end - 60 * m, end), y = two.stats("ETH", end - 60 * m, end);
    EXPECT_EQ(x.count, y.count);
    EXPECT_EQ(x.mean, y.mean) << "bit for bit";
    EXPECT_EQ(x.newest, y.newest);
  }
  EXPECT_EQ(one.stats("ETH", -1, 0).count, 2) << "(from, to]: the items at 0 count, at from they do not";
  EXPECT_EQ(one.stats("BTC", -1, 120 * m).count, 0);
  EXPECT_EQ(base_symbol("KRW-BTC"), "BTC");
  EXPECT_EQ(base_symbol("BTC-ETH"), "ETH");
  EXPECT_EQ(base_symbol("XRP"), "XRP");
}

namespace {
closed_candle candle_at(double close, std::optional<double> n_back) {
  closed_candle c;
  c.row.symbol = "KRW-BTC";
  c.row.interval = "1h";
  c.row.candle_time = "2024-09-02T10:00:00.000Z";
  c.row.close = close;
  c.close_n_back = n_back;
  return c;
}
news_stats stats_of(std::int64_t count, double mean) {
  news_stats n;
  n.count = count;
  n.mean = mean;
  return n;
}
std::vector<std::string> types(const std::vector<ctk::msg::insight_data>& v) {
  std::vector<std::string> out;
  for (const auto& i : v) out.push_back(i.type);
  return out;
}
}  // namespace

TEST(news, the_news_mood_insight_comes_when_the_mean_crosses_the_threshold_and_not_again_while_it_stays) {
  ctk::cfg::analyzer_settings s;  // threshold 0.25, at least 3 items
  std::int64_t mood = 0;
  bool div = false;
  const auto flat = candle_at(100, 100);
  EXPECT_TRUE(news_insights(flat, stats_of(2, 0.9), mood, div, s).empty()) << "two items are not enough";
  auto up = news_insights(flat, stats_of(3, 0.3), mood, div, s);
  ASSERT_EQ(types(up), std::vector<std::string>{"news_mood_positive"});
  EXPECT_EQ(up[0].severity, "warning");
  EXPECT_NE(up[0].text_ko.find("긍정"), std::string::npos);
  EXPECT_NE(up[0].text_en.find("3 news items"), std::string::npos);
  EXPECT_TRUE(news_insights(flat, stats_of(4, 0.6), mood, div, s).empty()) << "still positive: no second insight";
  EXPECT_TRUE(news_insights(flat, stats_of(4, 0.1), mood, div, s).empty()) << "back to neutral";
  auto down = news_insights(flat, stats_of(5, -0.6), mood, div, s);
  ASSERT_EQ(types(down), std::vector<std::string>{"news_mood_negative"});
  EXPECT_EQ(down[0].severity, "critical") << "twice the threshold";
  EXPECT_EQ(mood, -1);
}

TEST(news, a_divergence_is_reported_when_it_starts_price_up_on_bad_news_or_down_on_good_news) {
  ctk::cfg::analyzer_settings s;  // 3 % over price_move_candles
  std::int64_t mood = -1;         // already negative: no mood insight here
  bool div = false;
  auto v = news_insights(candle_at(104, 100), stats_of(3, -0.4), mood, div, s);
  ASSERT_EQ(types(v), std::vector<std::string>{"divergence_price_up_news_negative"});
  EXPECT_NEAR(v[0].value, 4.0, 1e-9);
  EXPECT_TRUE(div);
  EXPECT_TRUE(news_insights(candle_at(105, 100), stats_of(3, -0.4), mood, div, s).empty()) << "still diverging";
  EXPECT_TRUE(news_insights(candle_at(101, 100), stats_of(3, -0.4), mood, div, s).empty()) << "ended";
  EXPECT_FALSE(div);
  mood = 1;
  EXPECT_EQ(types(news_insights(candle_at(96, 100), stats_of(3, 0.4), mood, div, s)),
            std::vector<std::string>{"divergence_price_down_news_positive"});
  div = false;
  EXPECT_TRUE(news_insights(candle_at(96, 100), stats_of(2, 0.4), mood, div, s).empty()) << "too few items";
  mood = 1;  // (two items set it back to neutral)
  EXPECT_TRUE(news_insights(candle_at(96, std::nullopt), stats_of(3, 0.4), mood, div, s).empty())
      << "no price history yet";
}
