-- dashboard: news text search, insight filters
CREATE INDEX raw_news_fts ON raw_news USING gin (to_tsvector('simple', title || ' ' || content));
CREATE INDEX crypto_insights_severity_time ON crypto_insights (severity, "timestamp" DESC);
