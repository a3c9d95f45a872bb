#include "actors/db_sink/tables.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstring>
#include <pqxx/tablewriter>

#include "actors/validator/normalize.h"

namespace ctk::db {

namespace {

cell number(double v) { return cell::number(v); }

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

// A column holding one text field of the record's data, as it is (referred to, not copied).
template <class D, std::string D::*M>
constexpr column<D> text(std::string_view name) {
  return {name, [](const msg::envelope&, const D& d) -> cell { return d.*M; }};
}

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
    text<market, &market::symbol>("symbol"),
    of<market>("price", [](const auto& d) { return number(d.price); }),
    of<market>("volume_24h", [](const auto& d) { return number(d.volume_24h); }),
    of<market>("change_24h", [](const auto& d) { return number(d.change_24h); }),
    text<market, &market::timestamp>("\"timestamp\""),
    collected_at<market>,
    trace<market>};

const std::array<column<msg::news_data>, 9> news_columns{
    record_id<news>,
    source<news>,
    text<news, &news::title>("title"),
    text<news, &news::url>("url"),
    text<news, &news::content>("content"),
    text<news, &news::published_at>("published_at"),
    of<news>("keywords", [](const auto& d) { return json_array(d.keywords); }),
    collected_at<news>,
    trace<news>};

const std::array<column<msg::fear_greed_data>, 7> fear_greed_columns{
    record_id<fear_greed>,
    source<fear_greed>,
    of<fear_greed>("value", [](const auto& d) { return std::to_string(d.value); }),
    text<fear_greed, &fear_greed::classification>("classification"),
    text<fear_greed, &fear_greed::timestamp>("\"timestamp\""),
    collected_at<fear_greed>,
    trace<fear_greed>};

const std::array<column<msg::indicator_data>, 23> indicator_columns{
    record_id<indicator>,
    text<indicator, &indicator::symbol>("symbol"),
    text<indicator, &indicator::interval>("\"interval\""),
    text<indicator, &indicator::candle_time>("\"timestamp\""),
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
    text<sentiment, &sentiment::news_id>("news_id"),
    text<sentiment, &sentiment::news_source>("source"),
    of<sentiment>("sentiment_score", [](const auto& d) { return number(d.score); }),
    text<sentiment, &sentiment::label>("sentiment_label"),
    of<sentiment>("confidence", [](const auto& d) { return number(d.confidence); }),
    text<sentiment, &sentiment::language>("language"),
    of<sentiment>("symbols", [](const auto& d) { return json_array(d.symbols); }),
    of<sentiment>("hits", [](const auto& d) { return std::to_string(d.hits); }),
    text<sentiment, &sentiment::published_at>("\"timestamp\"")};

const std::array<column<msg::insight_data>, 10> insight_columns{
    record_id<insight>,
    of<insight>("symbol", [](const auto& d) { return d.symbol.empty() ? cell{} : cell{d.symbol}; }),
    text<insight, &insight::type>("insight_type"),
    text<insight, &insight::text_ko>("description"),
    text<insight, &insight::text_en>("description_en"),
    of<insight>("value", [](const auto& d) { return number(d.value); }),
    text<insight, &insight::severity>("severity"),
    text<insight, &insight::interval>("\"interval\""),
    of<insight>("related_news", [](const auto& d) { return json_array(d.related_news); }),
    text<insight, &insight::at>("\"timestamp\"")};

cell cell::number(double v) {
  cell c;
  c.kind_ = kind::printed;
  auto [end, ec] = std::to_chars(c.printed_, c.printed_ + sizeof c.printed_, v);
  if (ec != std::errc{}) end = std::copy_n("NaN", 3, c.printed_);
  c.printed_size_ = static_cast<std::uint8_t>(end - c.printed_);
  return c;
}

std::string_view cell::text() const {
  switch (kind_) {
    case kind::view:
      return view_;
    case kind::owned:
      return own_;
    case kind::printed:
      return {printed_, printed_size_};
    default:
      return {};
  }
}

// ---------------------------------------------------------------- table

table_base::table_base(std::string name, std::vector<std::string> cols)
    : name_(std::move(name)), cols_(std::move(cols)) {
  for (std::size_t i = 0; i < cols_.size(); ++i) col_list_ += (i ? ", " : "") + cols_[i];
}

std::string table_base::create_stage_sql() const {
  return "CREATE TEMP TABLE IF NOT EXISTS " + stage() + " ON COMMIT DELETE ROWS AS SELECT " + col_list_ + " FROM " +
         name_ + " WITH NO DATA";
}

namespace {
// COPY's text format: backslash, and the characters that end a value or a
// row, escaped; every other byte (UTF-8 above all) as it is. The connection
// speaks UTF-8 (connect()), so the server reads the bytes as they are meant.
constexpr std::array<char, 256> copy_escapes = [] {  // the letter after the backslash; 0: the byte as it is
  std::array<char, 256> t{};
  t['\\'] = '\\';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\v'] = 'v';
  return t;
}();

void put_escaped(std::string& out, std::string_view v) {
  std::size_t from = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char e = copy_escapes[static_cast<unsigned char>(v[i])];
    if (!e) continue;
    out.append(v.data() + from, i - from);
    out += '\\';
    out += e;
    from = i + 1;
  }
  out.append(v.data() + from, v.size() - from);
}
}  // namespace

void table_base::put(std::size_t column, const cell& v) {
  if (column > 0) text_ += '\t';
  if (v.null())
    text_ += "\\N";
  else
    put_escaped(text_, v.text());
}

void table_base::end_row(std::size_t ref) {
  text_ += '\n';
  ends_.push_back(text_.size());
  refs.push_back(ref);
}

std::string_view table_base::line(std::size_t i) const {
  return std::string_view(text_).substr(begin(i), ends_[i] - begin(i));
}

void table_base::clear() {
  text_.clear();
  ends_.clear();
  refs.clear();
}

void table_base::retain(const std::vector<long>& remap) {
  std::size_t w = 0, at = 0;
  for (std::size_t i = 0; i < ends_.size(); ++i) {
    const long to = remap[refs[i]];
    const std::size_t from = begin(i), n = ends_[i] - from;
    if (to < 0) continue;
    if (at != from) std::memmove(text_.data() + at, text_.data() + from, n);
    at += n;
    ends_[w] = at;
    refs[w] = static_cast<std::size_t>(to);
    ++w;
  }
  text_.resize(at);
  ends_.resize(w);
  refs.resize(w);
}

// libpqxx 6.4's stream_to escapes every byte above 0x7e as \ooo (four
// bytes for each byte of Korean text) and allocates for every value, and
// keeps its raw line writer private. tablewriter, deprecated for its own
// escaping (unsafe in client encodings whose multibyte characters can hold
// a backslash; this connection speaks UTF-8, where none can), is the
// release's public way to send COPY text as it is. Each "line" gets a
// newline from libpqxx, and COPY data is a byte stream whose pieces may end
// anywhere: so rows go out in pieces of up to 256 KiB of whole lines, each
// without its last newline.
void table_base::copy(pqxx::transaction_base& t, const std::string& into, std::size_t lo, std::size_t hi) {
  constexpr std::size_t piece = 256 * 1024;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter w(t, into, cols_.begin(), cols_.end());
#pragma GCC diagnostic pop
  std::size_t row = lo;
  while (row < hi) {
    const std::size_t from = begin(row);
    std::size_t last = row;
    while (last + 1 < hi && ends_[last + 1] - from <= piece) ++last;
    chunk_.assign(text_, from, ends_[last] - from - 1);
    w.write_raw_line(chunk_);
    row = last + 1;
  }
  w.complete();
}

std::size_t table_base::write_direct(pqxx::transaction_base& t, std::size_t lo, std::size_t hi) {
  copy(t, name_, lo, hi);
  return hi - lo;
}

std::size_t table_base::write(pqxx::transaction_base& t, std::size_t lo, std::size_t hi) {
  t.exec("DELETE FROM " + stage());
  copy(t, stage(), lo, hi);
  auto r = t.exec("INSERT INTO " + name_ + " (" + col_list_ + ") SELECT " + col_list_ + " FROM " + stage() +
                  " ON CONFLICT (record_id) DO NOTHING");
  return static_cast<std::size_t>(r.affected_rows());
}

void batch::add_origin(std::string_view topic, std::int32_t partition, std::int64_t offset, std::string_view key,
                       std::string_view value) {
  origins.push_back({std::string(topic), partition, offset, payload.size(), key.size(), value.size()});
  (payload += key) += value;
  if (partition != last_partition_ || topic != last_topic_) {
    const tp_key tp{std::string(topic), partition};
    first.try_emplace(tp, offset);
    last_next_ = next.try_emplace(tp, offset).first;
    last_topic_.assign(topic);
    last_partition_ = partition;
  }
  last_next_->second = offset + 1;
}

void batch::crawled(const std::string& source, const std::string& fetched_at) {
  if (fetched_at == last_fetched_ && source == last_source_) return;
  std::string why;
  if (auto t = validator::parse_time_ms(fetched_at, "UTC", why)) {
    auto& n = newest[source];
    n = std::max(n, *t);
  }
  last_source_ = source;
  last_fetched_ = fetched_at;
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
  last_partition_ = -1;
}

void batch::clear() {
  for (auto* t : tables()) t->clear();
  origins.clear();
  payload.clear();
  first.clear();
  next.clear();
  newest.clear();
  oldest = {};
  last_partition_ = -1;
  last_source_.clear();
  last_fetched_.clear();
}

}  // namespace ctk::db
