// Typed settings for config/sources.yaml: each source, its schedule and its
// request limits (included by config/settings.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"
#include "config/schema.h"

namespace ctk::cfg {

struct schedule_settings {
  duration every;
  std::string daily;
  std::string cron;
  std::string timezone = "UTC";

  static constexpr auto settings() {
    return std::tuple{setting("every", &schedule_settings::every, "fixed period: 30s, 2m, 1h, 1d"),
                      setting("daily", &schedule_settings::daily, "time of day HH:MM in `timezone`"),
                      setting("cron", &schedule_settings::cron, "5-field cron expression in `timezone`"),
                      setting("timezone", &schedule_settings::timezone, "UTC, Asia/Seoul, ...")};
  }
  static std::optional<std::string> check(const schedule_settings& s);
};

// When a source counts as late or stale (actors/scheduler/freshness.h).
struct freshness_settings {
  duration late_after;   // empty: 2 × the schedule's interval
  duration stale_after;  // empty: 5 × the schedule's interval
  int stale_after_failures = 3;

  static constexpr auto settings() {
    return std::tuple{setting("late_after", &freshness_settings::late_after,
                              "newest stored record older than this: late (default 2 × the schedule's interval)"),
                      setting("stale_after", &freshness_settings::stale_after,
                              "newest stored record older than this: stale (default 5 × the schedule's interval)"),
                      setting("stale_after_failures", &freshness_settings::stale_after_failures,
                              "this many failed crawls in a row: stale (0: never by failures)")};
  }
};

struct source_settings {
  bool enabled = true;
  std::string disabled_reason;
  std::string kind;
  std::string parser;
  std::vector<std::string> urls;
  schedule_settings schedule;
  double rate_limit_per_s = 1.0;
  duration timeout = "10s";
  int retries = 3;
  std::map<std::string, std::string> headers;
  std::string items;
  std::map<std::string, std::string> fields;
  int max_pages = 1;
  int max_connections = 0;
  freshness_settings freshness;

  static constexpr auto settings() {
    return std::tuple{
        setting("enabled", &source_settings::enabled, "false: never scheduled, manual crawls refused"),
        setting("disabled_reason", &source_settings::disabled_reason, "why a source ships disabled"),
        setting("kind", &source_settings::kind, "market | news | fear_greed"),
        setting("parser", &source_settings::parser,
                "upbit | alternative_me | cnn_fear_greed | coinness | saveticker | rss | json | html"),
        setting("urls", &source_settings::urls, "URLs fetched per crawl"),
        setting("schedule", &source_settings::schedule, "when the scheduler fires a crawl"),
        setting("rate_limit_per_s", &source_settings::rate_limit_per_s, "requests per second per host"),
        setting("timeout", &source_settings::timeout, "total timeout of one request"),
        setting("retries", &source_settings::retries, "retries of a failed request (with backoff)"),
        setting("headers", &source_settings::headers, "extra request headers"),
        setting("items", &source_settings::items, "json/html parsers: JSON pointer or XPath of the item list"),
        setting("fields", &source_settings::fields,
                "json/html parsers: record field -> JSON pointer or XPath (`key` names the item's own key)"),
        setting("max_pages", &source_settings::max_pages,
                "pages followed per crawl (coinness cursor, saveticker list pages / detail walk)"),
        setting("max_connections", &source_settings::max_connections,
                "requests in flight to this source's hosts (0: crawler.max_connections_per_host)"),
        setting("freshness", &source_settings::freshness,
                "when `status` and the alerts call this source late or stale")};
  }
  static constexpr auto renamed() {
    return std::tuple{cfg::renamed("timeout_ms", "timeout", &source_settings::timeout, 1)};
  }
  static std::optional<std::string> check(const source_settings& s);
};

struct sources_settings {
  std::map<std::string, source_settings> sources;

  static constexpr auto settings() {
    return std::tuple{setting("sources", &sources_settings::sources, "source name -> definition")};
  }
};

}  // namespace ctk::cfg
