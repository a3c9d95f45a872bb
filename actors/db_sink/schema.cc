#include "actors/db_sink/schema.h"

namespace ctk::db {

namespace {
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(727001)";  // any constant, same in every process
constexpr const char* history_sql = R"(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))";
}  // namespace

const std::vector<migration>& migrations() {
  // The seed's tables and columns (DESIGN.md §2), each with the record id as
  // its unique key; indexes for the dashboard's queries (latest by symbol,
  // news by time); the sink's offsets and rejected rows.
  static const std::vector<migration> list{
      {1, "seed tables, offsets, rejects", R"(
CREATE TABLE raw_news (
  id           bigserial PRIMARY KEY,
  record_id    text NOT NULL UNIQUE CHECK (length(record_id) = 32),
  source       text NOT NULL,
  title        text NOT NULL,
  url          text NOT NULL DEFAULT '',
  content      text NOT NULL DEFAULT '',
  published_at timestamptz NOT NULL,
  keywords     jsonb NOT NULL DEFAULT '[]',
  collected_at timestamptz NOT NULL,
  trace        text NOT NULL DEFAULT ''
);
CREATE INDEX raw_news_published_at ON raw_news (published_at DESC);
CREATE INDEX raw_news_source_published_at ON raw_news (source, published_at DESC);

CREATE TABLE market_trends (
  id           bigserial PRIMARY KEY,
  record_id    text NOT NULL UNIQUE CHECK (length(record_id) = 32),
  source       text NOT NULL,
  symbol       text NOT NULL,
  price        double precision NOT NULL CHECK (price > 0),
  volume_24h   double precision NOT NULL CHECK (volume_24h >= 0),
  change_24h   double precision NOT NULL,
  "timestamp"  timestamptz NOT NULL,
  collected_at timestamptz NOT NULL,
  trace        text NOT NULL DEFAULT ''
);
CREATE INDEX market_trends_symbol_time ON market_trends (symbol, "timestamp" DESC);

CREATE TABLE fear_greed_index (
  id             bigserial PRIMARY KEY,
  record_id      text NOT NULL UNIQUE CHECK (length(record_id) = 32),
  source         text NOT NULL,
  value          integer NOT NULL CHECK (value BETWEEN 0 AND 100),
  classification text NOT NULL,
  "timestamp"    timestamptz NOT NULL,
  collected_at   timestamptz NOT NULL,
  trace          text NOT NULL DEFAULT ''
);
CREATE INDEX fear_greed_index_source_time ON fear_greed_index (source, "timestamp" DESC);

CREATE TABLE sentiment_analysis (
  id             bigserial PRIMARY KEY,
  record_id      text NOT NULL UNIQUE CHECK (length(record_id) = 32),
  news_record_id text,
  source         text NOT NULL,
  score          double precision NOT NULL,
  label          text NOT NULL,
  "timestamp"    timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sentiment_analysis_time ON sentiment_analysis ("timestamp" DESC);

CREATE TABLE technical_indicators (
  id               bigserial PRIMARY KEY,
  record_id        text NOT NULL UNIQUE CHECK (length(record_id) = 32),
  symbol           text NOT NULL,
  "timestamp"      timestamptz NOT NULL,
  rsi              double precision,
  macd             double precision,
  macd_signal      double precision,
  bollinger_upper  double precision,
  bollinger_middle double precision,
  bollinger_lower  double precision,
  volume           double precision,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX technical_indicators_symbol_time ON technical_indicators (symbol, "timestamp" DESC);

CREATE TABLE crypto_insights (
  id          bigserial PRIMARY KEY,
  record_id   text NOT NULL UNIQUE CHECK (length(record_id) = 32),
  symbol      text,
  kind        text NOT NULL,
  summary     text NOT NULL,
  score       double precision,
  "timestamp" timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crypto_insights_symbol_time ON crypto_insights (symbol, "timestamp" DESC);

-- Where each sink group is in each input partition: written in the same
-- transaction as the rows, read back on assignment.
CREATE TABLE sink_offsets (
  consumer_group text NOT NULL,
  topic          text NOT NULL,
  partition      integer NOT NULL,
  next_offset    bigint NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, topic, partition)
);

-- Rows the database refused, kept with its message in the same transaction
-- as the offsets that pass them (also sent to the dead-letter topic).
CREATE TABLE sink_rejects (
  topic       text NOT NULL,
  partition   integer NOT NULL,
  "offset"    bigint NOT NULL,
  record_key  bytea,
  original    bytea NOT NULL,
  reason      text NOT NULL,
  rejected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, "offset")
);
)"},
      // The analysis tables with the original system's column names plus
      // what the analyzer adds. Renames and added columns only: safe on a
      // database that already holds rows (added NOT NULL columns have defaults).
      {2, "analysis tables: original column names, analyzer columns", R"(
ALTER TABLE sentiment_analysis RENAME COLUMN news_record_id TO news_id;
ALTER TABLE sentiment_analysis RENAME COLUMN score TO sentiment_score;
ALTER TABLE sentiment_analysis RENAME COLUMN label TO sentiment_label;
ALTER TABLE sentiment_analysis
  ADD COLUMN confidence  double precision NOT NULL DEFAULT 0,
  ADD COLUMN language    text NOT NULL DEFAULT '',
  ADD COLUMN symbols     jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN hits        integer NOT NULL DEFAULT 0,
  ADD COLUMN analyzed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE sentiment_analysis ADD CONSTRAINT sentiment_analysis_score_range CHECK (sentiment_score BETWEEN -1 AND 1) NOT VALID;
CREATE INDEX sentiment_analysis_news_id ON sentiment_analysis (news_id);
CREATE INDEX sentiment_analysis_symbols ON sentiment_analysis USING gin (symbols);

ALTER TABLE technical_indicators RENAME COLUMN bollinger_upper TO bb_upper;
ALTER TABLE technical_indicators RENAME COLUMN bollinger_middle TO bb_middle;
ALTER TABLE technical_indicators RENAME COLUMN bollinger_lower TO bb_lower;
ALTER TABLE technical_indicators
  ADD COLUMN "interval"   text NOT NULL DEFAULT '',
  ADD COLUMN open         double precision,
  ADD COLUMN high         double precision,
  ADD COLUMN low          double precision,
  ADD COLUMN close        double precision,
  ADD COLUMN records      integer,
  ADD COLUMN sma_short    double precision,
  ADD COLUMN sma_long     double precision,
  ADD COLUMN ema_short    double precision,
  ADD COLUMN ema_long     double precision,
  ADD COLUMN macd_hist    double precision,
  ADD COLUMN bb_percent_b double precision,
  ADD COLUMN bb_bandwidth double precision;
CREATE INDEX technical_indicators_symbol_interval_time ON technical_indicators (symbol, "interval", "timestamp" DESC);

ALTER TABLE crypto_insights RENAME COLUMN kind TO insight_type;
ALTER TABLE crypto_insights RENAME COLUMN summary TO description;
ALTER TABLE crypto_insights RENAME COLUMN score TO value;
ALTER TABLE crypto_insights
  ADD COLUMN description_en text NOT NULL DEFAULT '',
  ADD COLUMN severity       text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
  ADD COLUMN "interval"     text NOT NULL DEFAULT '',
  ADD COLUMN related_news   jsonb NOT NULL DEFAULT '[]';
CREATE INDEX crypto_insights_time ON crypto_insights ("timestamp" DESC);
)"},
      // The dashboard's news search (PostgreSQL text search, 'simple'
      // configuration: no stemming, works for Korean and English alike) and
      // its insight filters.
      {3, "dashboard: news text search, insight filters", R"(
CREATE INDEX raw_news_fts ON raw_news USING gin (to_tsvector('simple', title || ' ' || content));
CREATE INDEX crypto_insights_severity_time ON crypto_insights (severity, "timestamp" DESC);
)"},
  };
  return list;
}

int schema_version(pqxx::connection& c) {
  pqxx::work w(c);
  auto r = w.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!r[0][0].as<bool>()) return 0;
  return w.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
}

std::vector<int> migrate(pqxx::connection& c, int up_to) {
  std::vector<int> applied;
  for (const auto& m : migrations()) {
    if (m.version > up_to) break;
    pqxx::work w(c);
    w.exec(lock_sql);
    w.exec(history_sql);
    auto r = w.exec("SELECT 1 FROM schema_migrations WHERE version = " + w.quote(m.version));
    if (!r.empty()) continue;  // the transaction rolls back: nothing changed
    w.exec(m.sql);
    w.exec("INSERT INTO schema_migrations (version, name) VALUES (" + w.quote(m.version) + ", " + w.quote(m.name) +
           ")");
    w.commit();
    applied.push_back(m.version);
  }
  return applied;
}

}  // namespace ctk::db
