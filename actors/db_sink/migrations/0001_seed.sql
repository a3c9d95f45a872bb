-- seed tables, offsets, rejects
-- The original tables and columns, each with the record id as its unique
-- key; indexes for the dashboard's queries (latest by symbol, news by
-- time); the sink's offsets and rejected rows.
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
