#include "actors/analyzer/analyzer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "actors/analyzer/indicators.h"
#include "actors/analyzer/insights.h"
#include "actors/analyzer/news.h"
#include "actors/analyzer/sentiment.h"
#include "actors/analyzer/state.h"
#include "actors/validator/normalize.h"
#include "brokers/kafka.h"
#include "messages/analysis.h"
#include "messages/envelope.h"

namespace ctk::analyzer {

namespace {

class analyzer_actor final : public pipeline::actor {
 public:
  explicit analyzer_actor(const pipeline::actor_context& ctx)
      : settings_(ctx.config.cluster.analyzer),
        names_{ctx.config.cluster.kafka.prefix},
        candles_(ctx.metrics.counter("ctk_analyzer_candles_total", "candles closed (indicator records produced)")),
        sentiments_(ctx.metrics.counter("ctk_analyzer_sentiments_total", "news records scored")),
        insights_(ctx.metrics.counter("ctk_analyzer_insights_total", "insights produced")),
        late_(ctx.metrics.counter("ctk_analyzer_late_total",
                                  "market records older than their symbol's open candle (dead-lettered)")),
        replayed_(ctx.metrics.counter("ctk_analyzer_replayed_total",
                                      "market records skipped because the restored state already held them")),
        news_read_(ctx.metrics.counter("ctk_analyzer_news_read_total",
                                       "news items the news feed read (all news, every instance)")),
        news_late_(ctx.metrics.counter(
            "ctk_analyzer_news_late_total",
            "news items more than news_lateness behind their source's newest (not in news insights)")),
        book_(settings_.news_lateness.ms) {
    auto& m = ctx.metrics;
    m.gauge("ctk_analyzer_symbols", "symbols tracked in the assigned partitions",
            [this] { return static_cast<double>(symbol_count_.load()); });
    m.gauge("ctk_analyzer_pending_candles", "closed candles whose insights wait for the news of their time",
            [this] { return static_cast<double>(pending_count_.load()); });
    m.gauge("ctk_analyzer_news_watermark_seconds",
            "news is complete up to this time (unix seconds): candles ending before it are judged",
            [this] { return static_cast<double>(watermark_ms_.load()) / 1000.0; });
    std::vector<lexicon_error> errors;
    scorer_ = sentiment_scorer::load(lexicon_files(settings_, ctx.config.dir), settings_.sentiment_threshold, errors);
    if (!errors.empty())
      throw std::runtime_error("analyzer lexicons: " + errors.front().to_string() +
                               (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
    std::vector<std::string> names;
    for (const auto& i : settings_.intervals) {
      intervals_.push_back({i.text, i.ms});
      names.push_back(i.text);
    }
    grace_ms_ = settings_.grace.ms;
    snapshot_ms_ = settings_.snapshot_interval.ms;
    window_ms_ = settings_.news_window.ms;
    periods_ = {settings_.sma_short,   settings_.sma_long,           settings_.ema_short,
                settings_.ema_long,    settings_.rsi_period,         settings_.macd_fast,
                settings_.macd_slow,   settings_.macd_signal,        settings_.bollinger_period,
                settings_.bollinger_k, settings_.price_move_candles, settings_.volume_average};
    kafka::properties props = ctx.config.cluster.kafka.properties;
    props["bootstrap.servers"] = ctx.config.cluster.kafka.bootstrap;
    props["client.id"] = ctx.identity + "/state";
    reader_ = std::make_unique<kafka::partition_reader>(props);
    feed_props_ = props;
    feed_props_["client.id"] = ctx.identity + "/news";
    feed_props_["enable.partition.eof"] = "true";  // tells when the feed has read all news there is
    last_news_wall_ = msg::utc_now_ms();
    spdlog::info("analyzer: intervals {}; lexicons: {} Korean, {} English entries", fmt::join(names, ","),
                 scorer_.korean_entries(), scorer_.english_entries());
  }

  std::string name() const override { return "analyzer"; }
  std::vector<std::string> inputs() const override { return {"unique"}; }
  std::vector<std::string> outputs() const override { return {"insights", "analyzer.state"}; }

  // A snapshot no newer than the committed offset C is the state as of an
  // offset whose output is acknowledged; replay from there rewrites the
  // same ids. See README.md "State".
  void on_assign(std::vector<kafka::topic_partition>& parts) override {
    for (auto& p : parts) p.offset = restore(p.partition, p.offset);
  }

  void on_revoke(const std::vector<kafka::topic_partition>& parts) override {
    for (const auto& p : parts) parts_.erase(p.partition);
    count_symbols();
  }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter& out) override {
    msg::decode_error err;
    // One parse: `data` stays an element of it (decode_element below).
    if (!decoder_.decode_in_place(in.value, env_, err))
      return pipeline::outcome::dead_letter("decode", "envelope: " + err.to_string());
    if (env_.kind == "market") return on_market(in, out);
    if (env_.kind == "news") return on_news(out);
    if (env_.kind == "fear_greed") return on_fear_greed(out);
    return pipeline::outcome::ok();  // a kind the analyzer derives nothing from
  }

  // Checkpoint: the state of changed symbols, a new symbol at once (its
  // first snapshot carries first_offset), the others at most every
  // snapshot_interval. The runner commits the batch's input offsets only
  // after these are acknowledged; a restore replays from the newest
  // snapshot not ahead of the commit, so a later snapshot costs replay,
  // never correctness.
  pipeline::outcome flush(pipeline::emitter& out) override {
    follow_news(out);
    judge_all(out);
    return snapshot(out, false);
  }
  pipeline::outcome flush_all(pipeline::emitter& out) override {
    follow_news(out);
    judge_all(out);
    return snapshot(out, true);
  }

  // A quiet symbol's candle closes once the wall clock is `grace` past its
  // end and no record of that symbol came for `grace`.
  pipeline::outcome idle(pipeline::emitter& out) override {
    follow_news(out);
    judge_all(out);
    const std::int64_t now = msg::utc_now_ms();
    if (now < next_idle_check_) return pipeline::outcome::ok();
    next_idle_check_ = now + 1000;
    for (auto& [p, ps] : parts_)
      for (auto& [sym, t] : ps.symbols) {
        if (now - t.last_seen_ms < grace_ms_) continue;
        for (std::size_t i = 0; i < intervals_.size(); ++i) {
          series_state& s = t.state.series[i];
          if (s.open.bucket < 0 || now < s.open.bucket + intervals_[i].ms + grace_ms_) continue;
          emit_close(s, sym, intervals_[i], out);
          ps.dirty.insert(sym);
        }
        judge(ps, t, out);
      }
    return pipeline::outcome::ok();
  }

 private:
  struct interval {
    std::string name;
    std::int64_t ms;
  };

  std::int64_t restore(std::int32_t p, std::int64_t committed) {
    partition_state ps;
    std::string err;
    symbol_state s;
    msg::decode_error derr;
    std::size_t read = 0;
    std::map<std::string, std::int64_t> first_offsets;  // of symbols with no usable snapshot
    const std::int64_t end = reader_->read(
        names_.topic("analyzer.state"), p, kafka::offset_beginning,
        [&](const auto& m) {
          ++read;
          if (!decoder_.decode(kafka::payload(m), s, derr)) return;
          if (s.series.size() != intervals_.size()) return;  // intervals changed
          if (committed >= 0 && s.next_offset <= committed) {
            ps.symbols[s.symbol].state = s;
            first_offsets.erase(s.symbol);
          } else if (!ps.symbols.count(s.symbol)) {
            first_offsets.emplace(s.symbol, s.first_offset);
          }
        },
        err);
    if (end < 0) {
      // handle() rebuilds what it can; the snapshots are read again at the next assignment.
      spdlog::error("analyzer: cannot read analyzer.state/{}: {}; starting partition {} without saved state", p, err,
                    p);
      parts_[p] = std::move(ps);
      return committed;
    }
    std::int64_t start = committed;
    const std::int64_t now = msg::utc_now_ms();
    for (auto& [sym, t] : ps.symbols) {
      t.resume_at = t.state.next_offset;
      t.last_seen_ms = now;
      t.snapshot_ms = now;  // on the topic already: the next one waits its interval
      start = std::min(start, t.state.next_offset);
    }
    // A symbol whose every snapshot is ahead of the commit starts empty,
    // from its first input.
    for (const auto& [sym, first] : first_offsets) {
      tracked& t = ps.symbols[sym];
      t.state = fresh(sym);
      t.resume_at = first;
      t.last_seen_ms = now;
      t.snapshot_ms = now;
      if (first >= 0) start = std::min(start, first);
    }
    if (committed < 0) start = committed;  // no commit: everything from the beginning
    spdlog::info("analyzer: partition {}: {} symbols restored from {} snapshots; reading from offset {} (committed {})",
                 p, ps.symbols.size(), read, start, committed);
    parts_[p] = std::move(ps);
    count_symbols();
    return start;
  }

  pipeline::outcome snapshot(pipeline::emitter& out, bool all) {
    const std::int64_t now = msg::utc_now_ms();
    for (auto& [p, ps] : parts_) {
      for (auto d = ps.dirty.begin(); d != ps.dirty.end();) {
        auto it = ps.symbols.find(*d);
        if (it == ps.symbols.end()) {
          d = ps.dirty.erase(d);
          continue;
        }
        tracked& t = it->second;
        if (!all && t.snapshot_ms >= 0 && now - t.snapshot_ms < snapshot_ms_) {
          ++d;
          continue;
        }
        if (!msg::encode(t.state, json_, &encode_error_))
          return pipeline::outcome::retry("analyzer state of " + *d + " could not be encoded: " + encode_error_);
        out.emit("analyzer.state", *d, json_, p);
        t.snapshot_ms = now;
        d = ps.dirty.erase(d);
      }
    }
    return pipeline::outcome::ok();
  }

  symbol_state fresh(const std::string& symbol) const {
    symbol_state s;
    s.symbol = symbol;
    s.series.resize(intervals_.size());
    return s;
  }

  pipeline::outcome on_market(const pipeline::input& in, pipeline::emitter& out) {
    msg::decode_error err;
    if (!decoder_.decode_element(env_.data.dom, market_, err))
      return pipeline::outcome::dead_letter("decode", "data: " + err.to_string());
    const auto& m = market_;
    // The validator's ranges (messages/envelope.h): only a record that skipped it lands here.
    if (!std::isfinite(m.price) || m.price <= 0 || m.price > msg::max_price)
      return pipeline::outcome::dead_letter("price", "price " + std::to_string(m.price) + " is not in (0, 1e15]");
    if (!std::isfinite(m.volume_24h) || m.volume_24h < 0 || m.volume_24h > msg::max_volume)
      return pipeline::outcome::dead_letter("volume", "volume_24h is not in [0, 1e18]");
    std::string why;
    const auto t = validator::parse_time_ms(m.timestamp, "UTC", why);
    if (!t) return pipeline::outcome::dead_letter("timestamp", "timestamp: " + why);

    partition_state& ps = parts_[in.partition];
    auto [it, added] = ps.symbols.try_emplace(m.symbol);
    tracked& tr = it->second;
    if (added) {
      tr.state = fresh(m.symbol);
      count_symbols();
    }
    if (in.offset < tr.resume_at) {
      ++replayed_;
      return pipeline::outcome::ok();
    }
    // Late for any interval: older than the open candle, or not newer than the last closed one.
    for (std::size_t i = 0; i < intervals_.size(); ++i) {
      const std::int64_t b = *t - (*t % intervals_[i].ms);
      const series_state& s = tr.state.series[i];
      const bool late = s.open.bucket >= 0 ? b < s.open.bucket : s.closed_bucket >= 0 && b <= s.closed_bucket;
      if (!late) continue;
      ++late_;
      advance(tr, in.offset);
      ps.dirty.insert(m.symbol);
      return pipeline::outcome::dead_letter("late", m.symbol + " at " + m.timestamp + " is older than its open " +
                                                        intervals_[i].name +
                                                        " candle; not merged into a closed candle");
    }
    for (std::size_t i = 0; i < intervals_.size(); ++i) {
      const std::int64_t b = *t - (*t % intervals_[i].ms);
      series_state& s = tr.state.series[i];
      if (s.open.bucket >= 0 && b > s.open.bucket) emit_close(s, m.symbol, intervals_[i], out);
      if (s.open.bucket < 0) s.open.bucket = b;
      s.open.add(*t, m.price, m.volume_24h);
    }
    advance(tr, in.offset);
    tr.last_seen_ms = msg::utc_now_ms();
    ps.dirty.insert(m.symbol);
    judge(ps, tr, out);
    return pipeline::outcome::ok();
  }

  static void advance(tracked& t, std::int64_t offset) {
    if (t.state.first_offset < 0) t.state.first_offset = offset;
    t.state.next_offset = offset + 1;
  }

  // The indicator record at once; the candle's insights once the news of
  // its time is complete (judge()).
  void emit_close(series_state& s, const std::string& symbol, const interval& iv, pipeline::emitter& out) {
    const std::int64_t end = s.open.bucket + iv.ms;
    closed_candle c = close_candle(s, periods_, symbol, iv.name);
    c.end_ms = end;
    emit_record("indicator", symbol + '\x1f' + iv.name + '\x1f' + c.row.candle_time, c.row.candle_time, c.row, out);
    ++candles_;
    s.pending.push_back(std::move(c));
    pending_count_.fetch_add(1);
  }

  // Judges a symbol's closed candles, oldest first, whose end the news
  // watermark passed (or that overflow max_pending_candles): the candle
  // rules, the news rules, and the window's newest news as related_news.
  void judge(partition_state& ps, tracked& t, pipeline::emitter& out) {
    const std::int64_t wm = watermark_ms_.load();
    const std::string_view base = base_symbol(t.state.symbol);
    for (series_state& s : t.state.series) {
      while (!s.pending.empty() && (s.pending.front().end_ms <= wm ||
                                    s.pending.size() > static_cast<std::size_t>(settings_.max_pending_candles))) {
        const closed_candle& c = s.pending.front();
        const news_stats n = book_.stats(base, c.end_ms - window_ms_, c.end_ms);
        auto found = candle_insights(c, settings_);
        for (auto& i : news_insights(c, n, s.news_mood, s.diverging, settings_)) found.push_back(std::move(i));
        for (auto& i : found) {
          i.related_news = n.newest;
          emit_record("insight", insight_key(i), i.at, i, out);
          ++insights_;
        }
        s.pending.erase(s.pending.begin());
        pending_count_.fetch_sub(1);
        ps.dirty.insert(t.state.symbol);
      }
    }
  }

  void judge_all(pipeline::emitter& out) {
    if (pending_count_.load() == 0) return;
    for (auto& [p, ps] : parts_)
      for (auto& [sym, t] : ps.symbols) judge(ps, t, out);
  }

  // The news feed: every instance reads the one partition of `unique` that
  // all news is placed on, from its start, into book_ (README.md "News and
  // candles"). Reads what is fetched, without waiting.
  void follow_news(pipeline::emitter& out) {
    if (!feed_) {
      if (msg::utc_now_ms() < next_feed_try_) return;
      next_feed_try_ = msg::utc_now_ms() + 5000;
      const std::int32_t p = out.partition_for("unique", pipeline::news_placement_key);
      if (p < 0) return;
      std::string err;
      feed_ = kafka::follower::create(feed_props_, {{names_.topic("unique"), p, kafka::offset_beginning}}, err);
      if (!feed_) {
        spdlog::error("analyzer: cannot follow the news on unique/{}: {}; retrying", p, err);
        return;
      }
      spdlog::info("analyzer: following the news on unique/{} from its start", p);
    }
    for (int n = 0; n < 5000; ++n) {
      kafka::message_ptr m = feed_->poll(0);
      if (!m) break;
      if (m->err) {
        if (kafka::is_partition_eof(*m))
          caught_up_ = true;
        else
          spdlog::warn("analyzer: news feed: {}", kafka::error_text(m->err));
        continue;
      }
      caught_up_ = false;
      read_news(kafka::payload(*m));
    }
    std::int64_t wm = book_.watermark();
    // Live fallback: the feed has read all news there is and none came for
    // `grace`: the wall clock stands in for quiet sources.
    const std::int64_t now = msg::utc_now_ms();
    if (caught_up_ && now - last_news_wall_ >= grace_ms_) wm = std::max(wm, now - grace_ms_);
    watermark_ms_.store(wm);
  }

  void read_news(std::string_view value) {
    msg::decode_error err;
    if (!feed_decoder_.decode_in_place(value, feed_env_, err) || feed_env_.kind != "news") return;
    if (!feed_decoder_.decode_element(feed_env_.data.dom, feed_news_, err)) return;  // dead-lettered by handle()
    std::string why;
    const auto at = validator::parse_time_ms(feed_news_.published_at, "UTC", why);
    if (!at) return;
    ++news_read_;
    last_news_wall_ = msg::utc_now_ms();
    const sentiment_result r = score_news(feed_news_);
    if (!book_.add(feed_env_.source, *at, r.score, feed_env_.id, r.symbols)) ++news_late_;
  }

  sentiment_result score_news(const msg::news_data& n) const {
    auto r = scorer_.score(n.title, n.content, n.keywords, static_cast<std::size_t>(settings_.max_text_bytes));
    blend_votes(r, n.votes_up.value_or(0), n.votes_down.value_or(0), settings_.sentiment_threshold);
    return r;
  }

  template <class T>
  void emit_record(const std::string& kind, const std::string& natural_key, const std::string& at, const T& data,
                   pipeline::emitter& out) {
    msg::envelope& e = out_env_;  // reused: its buffers are kept
    e.source = "analyzer";
    e.kind = kind;
    e.id = msg::record_id("analyzer", kind + '\x1f' + natural_key);
    e.fetched_at = at;  // derived from the input's own time: a replay writes the same bytes
    if (!msg::encode(data, e.data.text, &encode_error_) || !msg::encode(e, json_, &encode_error_)) {
      spdlog::warn("analyzer: {} {} not produced: {}", kind, natural_key, encode_error_);
      return;
    }
    out.emit("insights", e.id, json_);
  }

  pipeline::outcome on_news(pipeline::emitter& out) {
    msg::decode_error err;
    if (!decoder_.decode_element(env_.data.dom, news_, err))
      return pipeline::outcome::dead_letter("decode", "data: " + err.to_string());
    const sentiment_result r = score_news(news_);
    msg::sentiment_data d;
    d.news_id = env_.id;
    d.news_source = env_.source;
    d.published_at = news_.published_at;
    d.score = r.score;
    d.label = r.label;
    d.confidence = r.confidence;
    d.language = r.language;
    d.symbols = r.symbols;
    d.hits = r.hits;
    emit_record("sentiment", env_.id, news_.published_at, d, out);
    ++sentiments_;
    return pipeline::outcome::ok();
  }

  pipeline::outcome on_fear_greed(pipeline::emitter& out) {
    msg::decode_error err;
    msg::fear_greed_data d;
    if (!decoder_.decode_element(env_.data.dom, d, err))
      return pipeline::outcome::dead_letter("decode", "data: " + err.to_string());
    for (auto& i : fear_greed_insights(d, env_.source, settings_)) {
      emit_record("insight", insight_key(i, env_.source), i.at, i, out);
      ++insights_;
    }
    return pipeline::outcome::ok();
  }

  void count_symbols() {
    std::size_t n = 0;
    std::int64_t pending = 0;
    for (const auto& [p, ps] : parts_) {
      n += ps.symbols.size();
      for (const auto& [sym, t] : ps.symbols)
        for (const auto& s : t.state.series) pending += static_cast<std::int64_t>(s.pending.size());
    }
    symbol_count_.store(n);
    pending_count_.store(pending);
  }

  cfg::analyzer_settings settings_;
  kafka::names names_;
  std::atomic<std::uint64_t>& candles_;
  std::atomic<std::uint64_t>& sentiments_;
  std::atomic<std::uint64_t>& insights_;
  std::atomic<std::uint64_t>& late_;
  std::atomic<std::uint64_t>& replayed_;
  std::atomic<std::uint64_t>& news_read_;
  std::atomic<std::uint64_t>& news_late_;
  sentiment_scorer scorer_;
  periods periods_;
  std::vector<interval> intervals_;
  std::int64_t grace_ms_ = 0;
  std::int64_t snapshot_ms_ = 1000;
  std::int64_t next_idle_check_ = 0;
  std::int64_t window_ms_ = 0;
  news_book book_;
  std::unique_ptr<kafka::follower> feed_;
  kafka::properties feed_props_;
  std::int64_t next_feed_try_ = 0;
  bool caught_up_ = false;
  std::int64_t last_news_wall_ = 0;
  std::atomic<std::int64_t> watermark_ms_{news_book::none};
  std::atomic<std::int64_t> pending_count_{0};
  msg::json_decoder feed_decoder_;
  msg::envelope feed_env_;
  msg::news_data feed_news_;
  std::unique_ptr<kafka::partition_reader> reader_;
  std::map<std::int32_t, partition_state> parts_;
  msg::json_decoder decoder_;
  msg::envelope env_, out_env_;
  msg::market_data market_;
  msg::news_data news_;
  std::string json_, encode_error_;
  std::atomic<std::size_t> symbol_count_{0};
};

}  // namespace

std::unique_ptr<pipeline::actor> make_analyzer(const pipeline::actor_context& ctx) {
  return std::make_unique<analyzer_actor>(ctx);
}

}  // namespace ctk::analyzer
