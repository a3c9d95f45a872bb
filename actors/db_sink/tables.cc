#include "actors/db_sink/tables.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

namespace ctk::db {

namespace {

cell number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

cell number(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return number(*v);
}

cell json_array(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& s : items) w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

// The columns every raw record's table starts or ends with.
template <class D>
constexpr column<D> record_id{"record_id", [](const msg::envelope& e, const D&) -> cell { return e.id; }};
template <class D>
constexpr column<D> source{"source", [](const msg::envelope& e, const D&) -> cell { return e.source; }};
template <class D>
constexpr column<D> collected_at{"collected_at", [](const msg::envelope& e, const D&) -> cell { return e.fetched_at; }};
template <class D>
constexpr column<D> trace{"trace", [](const msg::envelope& e, const D&) -> cell { return e.trace; }};

// A column filled from the record's data alone, by a stateless `value(data)`.
template <class D, class F>
constexpr column<D> of(std::string_view name, F) {
  return {name, [](const msg::envelope&, const D& d) -> cell { return F{}(d); }};
}

using market = msg::market_data;
using news = msg::news_data;
using fear_greed = msg::fear_greed_data;
using indicator = msg::indicator_data;
using sentiment = msg::sentiment_data;
using insight = msg::insight_data;

}  // namespace

const std::array<column<msg::market_data>, 9> market_columns{
    record_id<market>,
    source<market>,
    of<market>("symbol", [](const auto& d) { return d.symbol; }),
    of<market>("price", [](const auto& d) { return number(d.price); }),
    of<market>("volume_24h", [](const auto& d) { return number(d.volume_24h); }),
    of<market>("change_24h", [](const auto& d) { return number(d.change_24h); }),
    of<market>("\"timestamp\"", [](const auto& d) { return d.timestamp; }),
    collected_at<market>,
    trace<market>};

const std::array<column<msg::news_data>, 9> news_columns{
    record_id<news>,
    source<news>,
    of<news>("title", [](const auto& d) { return d.title; }),
    of<news>("url", [](const auto& d) { return d.url; }),
    of<news>("content", [](const auto& d) { return d.content; }),
    of<news>("published_at", [](const auto& d) { return d.published_at; }),
    of<news>("keywords", [](const auto& d) { return json_array(d.keywords); }),
    collected_at<news>,
    trace<news>};

const std::array<column<msg::fear_greed_data>, 7> fear_greed_columns{
    record_id<fear_greed>,
    source<fear_greed>,
    of<fear_greed>("value", [](const auto& d) { return std::to_string(d.value); }),
    of<fear_greed>("classification", [](const auto& d) { return d.classification; }),
    of<fear_greed>("\"timestamp\"", [](const auto& d) { return d.timestamp; }),
    collected_at<fear_greed>,
    trace<fear_greed>};

const std::array<column<msg::indicator_data>, 23> indicator_columns{
    record_id<indicator>,
    of<indicator>("symbol", [](const auto& d) { return d.symbol; }),
    of<indicator>("\"interval\"", [](const auto& d) { return d.interval; }),
    of<indicator>("\"timestamp\"", [](const auto& d) { return d.candle_time; }),
    of<indicator>("open", [](const auto& d) { return number(d.open); }),
    of<indicator>("high", [](const auto& d) { return number(d.high); }),
    of<indicator>("low", [](const auto& d) { return number(d.low); }),
    of<indicator>("close", [](const auto& d) { return number(d.close); }),
    of<indicator>("volume", [](const auto& d) { return number(d.volume); }),
    of<indicator>("records", [](const auto& d) { return std::to_string(d.records); }),
    of<indicator>("sma_short", [](const auto& d) { return number(d.sma_short); }),
    of<indicator>("sma_long", [](const auto& d) { return number(d.sma_long); }),
    of<indicator>("ema_short", [](const auto& d) { return number(d.ema_short); }),
    of<indicator>("ema_long", [](const auto& d) { return number(d.ema_long); }),
    of<indicator>("rsi", [](const auto& d) { return number(d.rsi); }),
    of<indicator>("macd", [](const auto& d) { return number(d.macd); }),
    of<indicator>("macd_signal", [](const auto& d) { return number(d.macd_signal); }),
    of<indicator>("macd_hist", [](const auto& d) { return number(d.macd_hist); }),
    of<indicator>("bb_upper", [](const auto& d) { return number(d.bb_upper); }),
    of<indicator>("bb_middle", [](const auto& d) { return number(d.bb_middle); }),
    of<indicator>("bb_lower", [](const auto& d) { return number(d.bb_lower); }),
    of<indicator>("bb_percent_b", [](const auto& d) { return number(d.bb_percent_b); }),
    of<indicator>("bb_bandwidth", [](const auto& d) { return number(d.bb_bandwidth); })};

const std::array<column<msg::sentiment_data>, 10> sentiment_columns{
    record_id<sentiment>,
    of<sentiment>("news_id", [](const auto& d) { return d.news_id; }),
    of<sentiment>("source", [](const auto& d) { return d.news_source; }),
    of<sentiment>("sentiment_score", [](const auto& d) { return number(d.score); }),
    of<sentiment>("sentiment_label", [](const auto& d) { return d.label; }),
    of<sentiment>("confidence", [](const auto& d) { return number(d.confidence); }),
    of<sentiment>("language", [](const auto& d) { return d.language; }),
    of<sentiment>("symbols", [](const auto& d) { return json_array(d.symbols); }),
    of<sentiment>("hits", [](const auto& d) { return std::to_string(d.hits); }),
    of<sentiment>("\"timestamp\"", [](const auto& d) { return d.published_at; })};

const std::array<column<msg::insight_data>, 10> insight_columns{
    record_id<insight>,
    of<insight>("symbol", [](const auto& d) { return d.symbol.empty() ? cell{} : cell{d.symbol}; }),
    of<insight>("insight_type", [](const auto& d) { return d.type; }),
    of<insight>("description", [](const auto& d) { return d.text_ko; }),
    of<insight>("description_en", [](const auto& d) { return d.text_en; }),
    of<insight>("value", [](const auto& d) { return number(d.value); }),
    of<insight>("severity", [](const auto& d) { return d.severity; }),
    of<insight>("\"interval\"", [](const auto& d) { return d.interval; }),
    of<insight>("related_news", [](const auto& d) { return json_array(d.related_news); }),
    of<insight>("\"timestamp\"", [](const auto& d) { return d.at; })};

// ---------------------------------------------------------------- table

table_base::table_base(std::string name, std::vector<std::string> cols)
    : name_(std::move(name)), cols_(std::move(cols)) {
  for (std::size_t i = 0; i < cols_.size(); ++i) col_list_ += (i ? ", " : "") + cols_[i];
}

std::string table_base::create_stage_sql() const {
  return "CREATE TEMP TABLE IF NOT EXISTS " + stage() + " ON COMMIT DELETE ROWS AS SELECT " + col_list_ + " FROM " +
         name_ + " WITH NO DATA";
}

std::size_t table_base::write_direct(pqxx::transaction_base& t, std::size_t lo, std::size_t hi) {
  pqxx::stream_to s(t, name_, cols_);
  copy(s, lo, hi);
  s.complete();
  return hi - lo;
}

std::size_t table_base::write(pqxx::transaction_base& t, std::size_t lo, std::size_t hi) {
  t.exec("DELETE FROM " + stage());
  {
    pqxx::stream_to s(t, stage(), cols_);
    copy(s, lo, hi);
    s.complete();
  }
  auto r = t.exec("INSERT INTO " + name_ + " (" + col_list_ + ") SELECT " + col_list_ + " FROM " + stage() +
                  " ON CONFLICT (record_id) DO NOTHING");
  return static_cast<std::size_t>(r.affected_rows());
}

void batch::drop(const std::set<tp_key>& gone) {
  std::vector<long> remap(origins.size(), -1);
  std::vector<origin> kept;
  for (std::size_t i = 0; i < origins.size(); ++i)
    if (!gone.count({origins[i].topic, origins[i].partition})) {
      remap[i] = static_cast<long>(kept.size());
      kept.push_back(std::move(origins[i]));
    }
  origins = std::move(kept);
  for (auto* t : tables()) t->retain(remap);
  for (const auto& tp : gone) {
    first.erase(tp);
    next.erase(tp);
  }
}

void batch::clear() {
  for (auto* t : tables()) t->clear();
  origins.clear();
  first.clear();
  next.clear();
  newest.clear();
  oldest = {};
}

}  // namespace ctk::db
