-- analysis tables: original column names, analyzer columns
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
