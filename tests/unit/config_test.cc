#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "tests/support/process.h"

using namespace ctk::cfg;

namespace {
std::vector<config_error> load_cluster(const std::string& yaml, cluster_settings& out) {
  return decode_yaml(YAML::Load(yaml), "cluster.yaml", out);
}

std::string write_dir(const std::string& cluster, const std::string& sources) {
  std::string d = ctk::test::temp_dir();
  std::ofstream(d + "/cluster.yaml") << cluster;
  if (!sources.empty()) std::ofstream(d + "/sources.yaml") << sources;
  return d;
}

char* no_env[] = {nullptr};
}  // namespace

TEST(config, the_shipped_files_pass_the_check) {
  loaded_config c;
  auto errors = load_config(std::string(CTK_SOURCE_DIR) + "/config", c, no_env);
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  EXPECT_EQ(c.cluster.nodes.size(), 4u);
  EXPECT_TRUE(c.sources.sources.count("upbit"));
  EXPECT_FALSE(c.sources.sources.at("cnn_fear_greed").enabled);
  EXPECT_FALSE(c.sources.sources.at("perplexity").enabled);
}

TEST(config, the_reference_file_is_the_generated_one) {
  std::string out;
  ASSERT_EQ(ctk::test::run(ctk::test::cointicker_command() + " config reference", &out), 0);
  EXPECT_EQ(out, ctk::test::read_file(std::string(CTK_SOURCE_DIR) + "/config/reference.yaml"))
      << "config/reference.yaml is stale: regenerate it with `build/cointicker config reference > "
         "config/reference.yaml`";
}

TEST(config, an_unknown_key_is_an_error_with_its_position_and_a_suggestion) {
  cluster_settings s;
  auto errors = load_cluster("kafka:\n  bootstrp: x:1\n", s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_EQ(errors[0].column, 3);
  EXPECT_NE(errors[0].message.find("unknown key 'bootstrp' in kafka"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("did you mean 'bootstrap'"), std::string::npos);
}

TEST(config, a_wrong_type_is_an_error_with_its_position) {
  cluster_settings s;
  auto errors = load_cluster("runtime:\n  batch_max_messages: lots\n  log_level: [a]\n", s);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(), "cluster.yaml:2:23: runtime.batch_max_messages: expected an integer, got 'lots'");
  EXPECT_EQ(errors[1].line, 3);
  EXPECT_NE(errors[1].message.find("expected a single value"), std::string::npos);
}

TEST(config, wrong_yaml_shapes_are_errors_not_crashes) {
  for (const char* y : {"[1,2]", "nodes: {a: 1}", "nodes: [1]", "kafka: 3", "kafka: {topics: {raw: -1}}",
                        "kafka: {topics: {raw: 99999999999}}", "runtime: {batch_max_ms: 1.5}",
                        "nodes: [{name: a, role: king}]", "nodes: [{name: a, actors: {crawlr: 1}}]",
                        "metrics: {base_port: true}", "kafka: {properties: {a: [1]}}", "? [a]\n: 1"}) {
    cluster_settings s;
    YAML::Node n;
    try {
      n = YAML::Load(y);
    } catch (const YAML::Exception&) {
      continue;
    }
    auto errors = decode_yaml(n, "c.yaml", s);
    EXPECT_FALSE(errors.empty()) << y;
  }
}

TEST(config, a_yaml_syntax_error_names_file_line_and_column) {
  loaded_config c;
  auto d = write_dir("kafka:\n  bootstrap: [unclosed\n", "");
  auto errors = load_config(d, c, no_env);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].file, d + "/cluster.yaml");
  EXPECT_GT(errors[0].line, 0);
  EXPECT_NE(errors[0].message.find("YAML syntax"), std::string::npos);
}

TEST(config, a_missing_cluster_file_is_an_error) {
  loaded_config c;
  auto errors = load_config("/nonexistent-dir", c, no_env);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("cannot open"), std::string::npos);
}

TEST(config, environment_variables_override_single_keys) {
  loaded_config c;
  auto d = write_dir("kafka: {bootstrap: a:1}\n", "sources:\n  s1: {kind: news, parser: rss, urls: [http://x]}\n");
  std::string e1 = "CTK_KAFKA__BOOTSTRAP=b:2", e2 = "CTK_SOURCES__S1__ENABLED=false", e3 = "CTK_CONFIG_DIR=/x",
              e4 = "CTK_KAFKA__PROPERTIES__SECURITY.PROTOCOL=SSL", e5 = "OTHER=1",
              e6 = "CTK_SOURCES__S1__DISABLED_REASON=the site is down";  // as the file would need
  char* env[] = {e1.data(), e2.data(), e3.data(), e4.data(), e5.data(), e6.data(), nullptr};
  auto errors = load_config(d, c, env);
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  EXPECT_EQ(c.cluster.kafka.bootstrap, "b:2");
  EXPECT_FALSE(c.sources.sources.at("s1").enabled);
  EXPECT_EQ(c.cluster.kafka.properties.at("security.protocol"), "SSL");
}

TEST(config, a_bad_environment_override_names_the_variable) {
  loaded_config c;
  auto d = write_dir("{}\n", "");
  std::string e1 = "CTK_RUNTIME__BATCH_MAX_WAIT=soon", e2 = "CTK_KAFKA__BOOTSTRP=x";
  char* env[] = {e1.data(), e2.data(), nullptr};
  auto errors = load_config(d, c, env);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].file, "environment CTK_RUNTIME__BATCH_MAX_WAIT");
  EXPECT_NE(errors[0].message.find("'soon' is not a duration"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[1].message.find("did you mean 'bootstrap'"), std::string::npos);
}

// An override is checked like the file's value, and read as plain text.
TEST(config, environment_overrides_are_checked_like_the_file_and_read_as_plain_text) {
  loaded_config c;
  auto d = write_dir("{}\n", "");
  std::string e1 = "CTK_HDFS__FORMAT=parquet", e2 = "CTK_POSTGRES__DSN=dbname=a #b",
              e3 = "CTK_ANALYZER__INTERVALS=[5m, 1h]", e4 = "CTK_RUNTIME__RETRY_INITIAL=50s",
              e5 = "CTK_RUNTIME__RETRY_MAX=1m";
  char* env[] = {e1.data(), e2.data(), e3.data(), e4.data(), e5.data(), nullptr};
  auto errors = load_config(d, c, env);
  ASSERT_EQ(errors.size(), 1u) << "two overrides that move a bound together are checked together";
  EXPECT_EQ(errors[0].file, "environment CTK_HDFS__FORMAT");
  EXPECT_NE(errors[0].message.find("format: 'parquet' is not supported"), std::string::npos) << errors[0].message;
  EXPECT_EQ(c.cluster.postgres.dsn, "dbname=a #b");
  ASSERT_EQ(c.cluster.analyzer.intervals.size(), 2u);
  EXPECT_EQ(c.cluster.analyzer.intervals[1].ms, 3'600'000);

  std::string u = "CTK_HDFS__URL=s3://x";
  char* env2[] = {u.data(), nullptr};
  errors = load_config(d, c, env2);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("must start with file:// or webhdfs://"), std::string::npos) << errors[0].message;
}

// One duration syntax; the old integer keys are read with a warning that
// names the new spelling, in the file and in the environment.
TEST(config, old_duration_keys_are_read_with_a_deprecation_warning) {
  loaded_config c;
  auto d = write_dir("postgres:\n  batch_ms: 250\n  connect_timeout_s: 7\ncrawler:\n  backoff_max_ms: 120000\n", "");
  std::string e1 = "CTK_CONTROL__HEARTBEAT_MS=500";
  char* env[] = {e1.data(), nullptr};
  auto errors = load_config(d, c, env);
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  EXPECT_EQ(c.cluster.postgres.batch_after.ms, 250);
  EXPECT_EQ(c.cluster.postgres.connect_timeout.text, "7s");
  EXPECT_EQ(c.cluster.crawler.backoff_max.text, "2m");
  EXPECT_EQ(c.cluster.control.heartbeat.ms, 500);
  ASSERT_EQ(c.warnings.size(), 4u);
  EXPECT_EQ(c.warnings[0].to_string(),
            d + "/cluster.yaml:2:13: 'batch_ms' is deprecated: write 'batch_after: 250ms' in postgres");
  EXPECT_EQ(c.warnings[1].message, "'connect_timeout_s' is deprecated: write 'connect_timeout: 7s' in postgres");
  EXPECT_EQ(c.warnings[3].to_string(),
            "environment CTK_CONTROL__HEARTBEAT_MS: 'heartbeat_ms' is deprecated: write 'heartbeat: 500ms' in control");
  // The old key still takes an integer only, and its new value is checked.
  auto bad = write_dir("postgres:\n  batch_ms: 1s\ncontrol:\n  dead_after_ms: 100\n", "");
  errors = load_config(bad, c, nullptr);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].message.find("expected an integer, got '1s'"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[1].message.find("dead_after must be longer than heartbeat"), std::string::npos) << errors[1].message;
}

TEST(config, source_rules_are_checked) {
  sources_settings s;
  auto errors =
      decode_yaml(YAML::Load("sources:\n"
                             "  a: {kind: weather, parser: rss, urls: [x]}\n"
                             "  b: {kind: news, parser: json, urls: [x]}\n"
                             "  c: {kind: news, parser: rss, urls: [x], schedule: {every: 2 minutes}}\n"
                             "  d: {kind: news, parser: rss, urls: [x], schedule: {every: 2m, daily: '00:00'}}\n"
                             "  e: {kind: news, parser: rss, urls: [x], schedule: {cron: '* * *'}}\n"
                             "  f: {kind: news, parser: rss, urls: [x], enabled: false}\n"
                             "  g: {kind: news, parser: rss, urls: [x], schedule: {daily: '25:00'}}\n"
                             "  ok: {kind: news, parser: rss, urls: [x], schedule: {cron: '*/5 * * * *'}}\n"),
                  "sources.yaml", s);
  ASSERT_EQ(errors.size(), 7u);
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_NE(errors[0].message.find("kind must be"), std::string::npos);
  EXPECT_NE(errors[1].message.find("need `items` and `fields`"), std::string::npos);
  EXPECT_NE(errors[2].message.find("not a duration"), std::string::npos);
  EXPECT_NE(errors[3].message.find("only one of"), std::string::npos);
  EXPECT_NE(errors[4].message.find("5 fields"), std::string::npos);
  EXPECT_NE(errors[5].message.find("disabled_reason"), std::string::npos);
  EXPECT_NE(errors[6].message.find("time of day"), std::string::npos);
}

TEST(config, durations_are_parsed_once_at_load_and_a_bad_one_names_its_line) {
  cluster_settings c;
  auto errors = decode_yaml(YAML::Load("hdfs:\n  rotate_after: 90s\nanalyzer:\n  intervals: [5m, 4h]\n"
                                       "  grace: soon\n"),
                            "cluster.yaml", c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 5);
  EXPECT_NE(errors[0].message.find("'soon' is not a duration"), std::string::npos) << errors[0].message;
  EXPECT_EQ(c.hdfs.rotate_after.ms, 90'000);
  EXPECT_EQ(c.hdfs.rotate_after.text, "90s");
  EXPECT_EQ(c.analyzer.intervals[1].ms, 4 * 3'600'000);
  // The defaults written in the code parse too.
  const cluster_settings d;
  EXPECT_EQ(d.dedup.ttl.ms, 7 * 86'400'000LL);
  EXPECT_EQ(d.analyzer.snapshot_interval.ms, 1000);
  EXPECT_EQ(d.analyzer.news_lateness.ms, 15 * 60'000);
  EXPECT_EQ(d.scheduler.overlap_timeout.ms, 15 * 60'000);
}

TEST(config, durations_parse) {
  EXPECT_EQ(parse_duration_ms("500ms"), 500);
  EXPECT_EQ(parse_duration_ms("30s"), 30000);
  EXPECT_EQ(parse_duration_ms("2m"), 120000);
  EXPECT_EQ(parse_duration_ms("1h"), 3600000);
  EXPECT_EQ(parse_duration_ms("1d"), 86400000);
  EXPECT_FALSE(parse_duration_ms("2"));
  EXPECT_FALSE(parse_duration_ms("-1s"));
  EXPECT_FALSE(parse_duration_ms("1 s"));
  EXPECT_FALSE(parse_duration_ms("s"));
  // Found by config_fuzz: the product overflowed (UBSan); what does not fit is refused.
  EXPECT_FALSE(parse_duration_ms("666666666666603331m"));
  EXPECT_FALSE(parse_duration_ms("106751991168d"));
  EXPECT_EQ(parse_duration_ms("106751991167d"), 106751991167LL * 86400000);
}

TEST(config, a_control_plane_reachable_from_the_network_needs_curve_keys_or_insecure) {
  cluster_settings s;
  auto errors = load_cluster("control:\n  router: tcp://10.42.0.1:5555\n  pub: tcp://10.42.0.1:5556\n", s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("'tcp://10.42.0.1:5555' is not a loopback endpoint"), std::string::npos)
      << errors[0].message;
  EXPECT_NE(errors[0].message.find("cointicker ctl keygen DIR"), std::string::npos) << errors[0].message;
  for (const char* ok :
       {"control:\n  router: tcp://10.42.0.1:5555\n  pub: tcp://10.42.0.1:5556\n  curve_dir: /etc/cointicker/curve\n",
        "control:\n  router: tcp://0.0.0.0:5555\n  pub: tcp://0.0.0.0:5556\n  insecure: true\n",
        "control:\n  router: tcp://localhost:5555\n  pub: tcp://[::1]:5556\n",
        "control:\n  router: ipc:///run/ctk/router\n  pub: tcp://127.0.0.2:5556\n",
        "control:\n  router: ''\n  pub: ''\n"}) {
    cluster_settings t;
    auto e = load_cluster(ok, t);
    EXPECT_TRUE(e.empty()) << ok << (e.empty() ? "" : e[0].to_string());
  }
  EXPECT_FALSE(loopback_endpoint("tcp://127.0.0.1.evil.example:5555"));
  EXPECT_FALSE(loopback_endpoint("tcp://*:5555"));
}
