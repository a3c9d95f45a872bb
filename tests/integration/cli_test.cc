// The command line as a new user meets it: each misuse, its message and
// its exit code; the output scripts parse; the generated completion and man
// page; and the README's examples, run as written.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <regex>

#include "tests/integration/helpers.h"
#include "tests/integration/readme.h"

using namespace ctk::test;

namespace {

const std::string src = CTK_SOURCE_DIR;

// stdout and stderr of a command, and its exit code.
struct result {
  int rc;
  std::string out;
};
result sh(const std::string& cmd) {
  result r;
  r.rc = run(cmd + " 2>&1", &r.out);
  return r;
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// A config folder with the shipped cluster.yaml's keys (lexicons by absolute
// path) and the given sources.yaml.
std::string config_with_sources(const std::string& sources_yaml) {
  const auto dir = temp_dir();
  std::ofstream(dir + "/cluster.yaml") << "analyzer:\n  korean_lexicon: " << src
                                       << "/config/lexicons/ko.tsv\n  english_lexicon: " << src
                                       << "/deploy/npm/node_modules/afinn-165-financialmarketnews/index.js\n"
                                          "  english_extra: "
                                       << src << "/config/lexicons/en.tsv\n  symbols: " << src
                                       << "/config/lexicons/symbols.tsv\n";
  std::ofstream(dir + "/sources.yaml") << sources_yaml;
  return dir;
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element e;
  if (auto err = p.parse(json).get(e)) ADD_FAILURE() << "not JSON: " << simdjson::error_message(err) << "\n" << json;
  return e;
}

}  // namespace

TEST(cli, every_command_has_help_and_usage_errors_exit_2) {
  for (const char* c : {"",
                        " broker",
                        " up",
                        " run",
                        " tail",
                        " topics",
                        " config",
                        " config check",
                        " config sources",
                        " config reference",
                        " crawl",
                        " replay-server",
                        " db",
                        " db migrate",
                        " status",
                        " ctl",
                        " node",
                        " config nodes",
                        " completion",
                        " aggregate",
                        " mapreduce",
                        " mapreduce map",
                        " mapreduce reduce",
                        " backfill"}) {
    std::string out;
    EXPECT_EQ(run(cointicker() + c + " --help", &out), 0) << c;
    EXPECT_NE(out.find("Usage"), std::string::npos) << c;
  }
  EXPECT_EQ(run(cointicker() + " --no-such-flag 2>/dev/null"), 2);
  EXPECT_EQ(run(cointicker() + " tail 2>/dev/null"), 2);
  EXPECT_EQ(run(cointicker() + " frobnicate 2>/dev/null"), 2);
  EXPECT_EQ(run(cointicker() + " run nosuchactor 2>/dev/null"), 2);
  EXPECT_EQ(run(cointicker() + " node 2>/dev/null"), 2);
}

// The rough edges a new user hits first: each misuse, its message, its exit code.
TEST(cli, misuse_is_named_with_the_closest_match_and_exits_2) {
  std::string out;
  EXPECT_EQ(run(cointicker() + " frobnicate 2>&1", &out), 2);
  EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos) << out;
  EXPECT_NE(out.find("commands: broker up run tail"), std::string::npos) << out;
  EXPECT_EQ(run(cointicker() + " --log-level warn tial 2>&1", &out), 2);
  EXPECT_NE(out.find("unknown command 'tial' (did you mean 'tail'?)"), std::string::npos) << out;
  EXPECT_EQ(run(cointicker() + " --log-level loud config check 2>&1", &out), 2);
  EXPECT_NE(out.find("loud"), std::string::npos) << out;
  EXPECT_EQ(run(cointicker() + " help 2>&1", &out), 0);
  EXPECT_NE(out.find("Subcommands:"), std::string::npos) << out;
  EXPECT_EQ(run(binary_dir() + "/cointicker --config /nonexistent/ctk config check 2>&1", &out), 1);
  EXPECT_NE(out.find("give it with --config DIR or CTK_CONFIG_DIR"), std::string::npos) << out;
  EXPECT_EQ(run(cointicker() + " -V 2>&1", &out), 0);
  EXPECT_NE(out.find("cointicker 0."), std::string::npos) << out;
  EXPECT_NE(out.find("(librdkafka 2."), std::string::npos) << out;
}

TEST(cli, global_options_are_taken_after_the_subcommand_too) {
  std::string out;
  // cointicker() puts --config first; here it comes last, as users type it.
  EXPECT_EQ(
      run(binary_dir() + "/cointicker config check --config " + std::string(CTK_SOURCE_DIR) + "/config 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("config OK"), std::string::npos) << out;
  // An option of `db` after `db status` (the README's own spelling): no usage
  // error; the unreachable server is the failure, exit 1.
  EXPECT_EQ(run(cointicker() + " db status --dsn 'host=127.0.0.1 port=1 dbname=x connect_timeout=2' 2>&1", &out), 1)
      << out;
  EXPECT_EQ(out.find("was not expected"), std::string::npos) << out;
}

TEST(cli, config_check_reports_file_line_column_and_exits_1) {
  auto dir = temp_dir();
  std::ofstream(dir + "/cluster.yaml") << "kafka:\n  prefix: x.\n  partitions: 3\n";
  std::string out;
  EXPECT_EQ(run(binary_dir() + "/cointicker --config " + dir + " config check 2>&1", &out), 1);
  EXPECT_NE(out.find(dir + "/cluster.yaml:3:3: unknown key 'partitions' in kafka"), std::string::npos) << out;
  EXPECT_EQ(run(cointicker() + " config check", &out), 0);
  EXPECT_NE(out.find("config OK"), std::string::npos);
}

TEST(cli, an_environment_override_is_checked_like_the_file) {
  auto r = sh("CTK_HDFS__FORMAT=parquet " + cointicker() + " config check");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("environment CTK_HDFS__FORMAT: format: 'parquet' is not supported (jsonl, avro)"),
            std::string::npos)
      << r.out;
}

// An actor that cannot start (here the analyzer without its English
// lexicon) says why once and exits 1: it was an uncaught exception (abort,
// exit 134) that `node` restarted over and over.
TEST(cli, an_actor_that_cannot_start_says_why_and_exits_1) {
  const auto dir = temp_dir();
  auto r = sh("CTK_ANALYZER__ENGLISH_LEXICON=" + dir + "/missing.js " + cointicker() +
              " --bootstrap 127.0.0.1:9 run analyzer --node test");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("analyzer cannot start: analyzer lexicons: " + dir + "/missing.js"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
}

// Any IANA zone; config check fails on one it cannot load, with its place.
TEST(cli, any_iana_time_zone_is_accepted_and_an_unknown_one_fails_config_check) {
  const std::string source = "sources:\n  s1:\n    kind: news\n    parser: rss\n    urls: [http://x/]\n";
  auto ok = config_with_sources(source + "    schedule: {daily: \"09:00\", timezone: Europe/Berlin}\n");
  auto r = sh(binary_dir() + "/cointicker --config " + ok + " config check");
  EXPECT_EQ(r.rc, 0) << r.out;
  auto bad = config_with_sources(source + "    schedule: {daily: \"09:00\", timezone: Europe/Berlni}\n");
  r = sh(binary_dir() + "/cointicker --config " + bad + " config check");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find(bad + "/sources.yaml:6:15: timezone: unknown time zone 'Europe/Berlni'"), std::string::npos)
      << r.out;
  r = sh("CTK_SOURCES__ALTERNATIVE_ME__SCHEDULE__TIMEZONE=America/New_York " + cointicker() + " config sources");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("America/New_York"), std::string::npos) << r.out;
}

TEST(cli, a_typo_gets_the_closest_name_and_the_list_of_what_exists) {
  auto r = sh(cointicker() + " run crawlr");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("run: no actor named 'crawlr' (did you mean 'crawler'?); actors: crawler, validator"),
            std::string::npos)
      << r.out;
  r = sh(cointicker() + " ctl pause --actor validatr");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("(did you mean 'validator'?)"), std::string::npos) << r.out;
  broker b;
  r = sh(cointicker() + " --bootstrap " + b.bootstrap() + " tail uniq");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("tail: no topic named 'uniq' (did you mean 'unique'?); topics: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" raw, "), std::string::npos) << r.out;
}

// No broker: one line that says where it looked and what to start, no
// librdkafka log, exit 1.
TEST(cli, no_broker_is_one_line_with_a_hint) {
  const std::string at = "127.0.0.1:" + std::to_string(free_port());
  for (const std::string cmd : {"crawl upbit", "tail raw", "topics"}) {
    auto r = sh(cointicker() + " --bootstrap " + at + " " + cmd);
    EXPECT_EQ(r.rc, 1) << cmd;
    EXPECT_EQ(lines(r.out), 1u) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("no Kafka broker answers at " + at), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("`cointicker broker`"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("`cointicker up`"), std::string::npos) << r.out;
  }
  auto r = sh("CTK_CONTROL__ROUTER=tcp://127.0.0.1:" + std::to_string(free_port()) + " " + cointicker() +
              " status --timeout-ms 300");
  EXPECT_EQ(r.rc, 1) << "status: no scheduler is unreachable, exit 1";
  EXPECT_NE(r.out.find("no answer from the scheduler"), std::string::npos) << r.out;
}

// kcat's habits: -b is the broker there, so tail has no -b or -f; it starts
// at an offset, a partition or a time.
TEST(tail, starts_at_an_offset_a_partition_or_a_time) {
  broker b;
  auto dir = temp_dir();
  std::vector<std::string> first, second;
  for (int i = 0; i < 5; ++i) first.push_back("a" + std::to_string(i) + ":A" + std::to_string(i));
  kcat_produce(b.bootstrap(), "ctk.raw", first, dir, 0);
  kcat_produce(b.bootstrap(), "ctk.raw", {"b0:B0", "b1:B1", "b2:B2"}, dir, 1);
  const std::string tail = cointicker() + " --bootstrap " + b.bootstrap() + " tail raw";
  std::string out;
  ASSERT_EQ(run(tail + " --partition 0 --offset 2", &out), 0);
  EXPECT_EQ(out, "A2\nA3\nA4\n");
  ASSERT_EQ(run(tail + " --partition 1 --offset -1 --keys", &out), 0);
  EXPECT_EQ(out, "1\t2\tb2\tB2\n");
  ASSERT_EQ(run(tail + " --partition 1 --offset beginning", &out), 0);
  EXPECT_EQ(out, "B0\nB1\nB2\n");
  ASSERT_EQ(run(tail + " --offset end", &out), 0);
  EXPECT_EQ(out, "");
  // --since: the messages at or after a time. The embedded broker cannot look
  // times up; tail then reads from the start and skips older messages.
  std::string ts;
  run("kcat -b " + b.bootstrap() + " -C -t ctk.raw -e -q -f '%T\\n' | sort -n | tail -1", &ts);
  const long long newest = std::stoll(ts);
  ASSERT_TRUE(wait_until(
      [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() > newest;
      },
      std::chrono::seconds(5)));
  kcat_produce(b.bootstrap(), "ctk.raw", {"c0:C0", "c1:C1"}, dir, 2);
  ASSERT_EQ(run(tail + " --since " + std::to_string(newest + 1) + " | sort", &out), 0);
  EXPECT_EQ(out, "C0\nC1\n");
  ASSERT_EQ(run(tail + " --since 1d | wc -l", &out), 0);
  EXPECT_EQ(std::stoi(out), 10);
  ASSERT_EQ(run(tail + " --since 2999-01-01T00:00:00Z", &out), 0);
  EXPECT_EQ(out, "");
  // Misuse.
  for (const std::string bad :
       {"-b", "-f", "--offset x", "--since soon", "--group g --offset 1", "--from-beginning --since 1h"}) {
    auto r = sh(tail + " " + bad);
    EXPECT_EQ(r.rc, 2) << bad << ": " << r.out;
  }
  auto r = sh(tail + " --partition 99");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("ctk.raw has no partition 99 (it has 0..15)"), std::string::npos) << r.out;
}

// --json wherever a script parses the output.
TEST(cli, json_output_for_topics_and_config) {
  simdjson::dom::parser p;
  std::string out;
  broker b;
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "ctk.raw", {"a:1", "b:2"}, dir);
  ASSERT_EQ(run(cointicker() + " --bootstrap " + b.bootstrap() + " topics --json", &out), 0);
  bool seen = false;
  for (auto t : parse(p, out)["topics"].get_array()) {
    if (std::string_view(t["name"].get_string()) != "ctk.raw") continue;
    seen = true;
    EXPECT_EQ(int64_t(t["partitions"]), 16);
    EXPECT_EQ(int64_t(t["messages"]), 2);
  }
  EXPECT_TRUE(seen) << out;
  ASSERT_EQ(run(cointicker() + " config check --json", &out), 0);
  EXPECT_TRUE(bool(parse(p, out)["ok"])) << out;
  EXPECT_EQ(run("CTK_HDFS__FORMAT=parquet " + cointicker() + " config check --json 2>/dev/null", &out), 1);
  auto doc = parse(p, out);
  EXPECT_FALSE(bool(doc["ok"]));
  EXPECT_EQ(std::string_view(doc["errors"].at(0)["file"].get_string()), "environment CTK_HDFS__FORMAT") << out;
  ASSERT_EQ(run(cointicker() + " config sources --json", &out), 0);
  seen = false;
  for (auto s : parse(p, out)["sources"].get_array())
    if (std::string_view(s["name"].get_string()) == "alternative_me") {
      seen = true;
      EXPECT_EQ(std::string_view(s["schedule"].get_string()), "daily 00:10 UTC");
    }
  EXPECT_TRUE(seen) << out;
  ASSERT_EQ(run(cointicker() + " config nodes --json", &out), 0);
  EXPECT_EQ(parse(p, out)["nodes"].get_array().size(), 4u) << out;
}

// One duration syntax; an old integer key still works, with a warning.
TEST(cli, an_old_duration_key_still_works_with_a_deprecation_warning) {
  auto r = sh("CTK_CONTROL__HEARTBEAT_MS=500 " + cointicker() + " config check");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("config warning: environment CTK_CONTROL__HEARTBEAT_MS: 'heartbeat_ms' is deprecated: write "
                       "'heartbeat: 500ms' in control"),
            std::string::npos)
      << r.out;
  r = sh("CTK_CONTROL__HEARTBEAT=soon " + cointicker() + " config check");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("'soon' is not a duration (250ms, 30s, 5m, 1h, 7d; 0 for none)"), std::string::npos) << r.out;
}

// Completion and the man page are generated from the binary at build time.
TEST(cli, bash_completion_and_man_page_are_generated_from_the_commands) {
  const std::string script = binary_dir() + "/completion/cointicker";
  const auto complete = [&](const std::string& words) {
    std::string out;
    run("bash -c 'source " + script + "; COMP_WORDS=(" + words +
            "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _cointicker; echo \"${COMPREPLY[*]}\"'",
        &out);
    return out;
  };
  EXPECT_EQ(complete("cointicker ta"), "tail\n");
  EXPECT_EQ(complete("cointicker run cr"), "crawler\n");
  EXPECT_EQ(complete("cointicker tail uni"), "unique\n");
  EXPECT_EQ(complete("cointicker tail raw --of"), "--offset\n");
  EXPECT_EQ(complete("cointicker config ch"), "check\n");
  EXPECT_EQ(complete(binary_dir() + "/cointicker --config " + src + "/config crawl upb"), "upbit\n");
  const std::string man = read_file(binary_dir() + "/man/cointicker.1");
  EXPECT_NE(man.find(".SH COMMANDS"), std::string::npos);
  EXPECT_NE(man.find(".SS \"cointicker tail\""), std::string::npos);
  EXPECT_NE(man.find(".SS \"cointicker config check\""), std::string::npos);
  EXPECT_NE(man.find("\\-\\-since"), std::string::npos);
  EXPECT_NE(man.find("librdkafka"), std::string::npos) << "the version line";
}

// Every option the README's command table names is in that command's --help.
TEST(readme, every_option_in_the_command_table_is_in_the_commands_help) {
  const auto rows = readme_command_rows();
  ASSERT_GE(rows.size(), 15u);
  const std::regex option("--[a-z][a-z-]+");
  for (const auto& row : rows) {
    const auto open = row.find('`') + 1;
    std::istringstream words(row.substr(open, row.find('`', open) - open));
    std::string word, cmd;
    words >> word;  // cointicker
    while (words >> word && std::regex_match(word, std::regex("[a-z-]+"))) {
      if (sh(binary_dir() + "/cointicker" + cmd + " " + word + " --help").rc != 0) break;
      cmd += " " + word;
    }
    ASSERT_FALSE(cmd.empty()) << row;
    // The command's help, its parent's (db's --dsn) and the global options'.
    std::string help =
        sh(binary_dir() + "/cointicker" + cmd + " --help").out + sh(binary_dir() + "/cointicker --help").out;
    if (const auto space = cmd.rfind(' '); space > 0)
      help += sh(binary_dir() + "/cointicker" + cmd.substr(0, space) + " --help").out;
    for (std::sregex_iterator m(row.begin(), row.end(), option), end; m != end; ++m)
      EXPECT_NE(help.find(m->str()), std::string::npos) << "cointicker" << cmd << " has no " << m->str();
  }
}

// The README's "Try it" block, as written, against a broker on a free port
// (the block's 127.0.0.1:9092 becomes that port; `build/` the build folder).
TEST(readme, the_try_it_example_runs_as_written) {
  const auto commands = readme_commands("### Try it");
  ASSERT_GE(commands.size(), 6u);
  const std::string port = std::to_string(free_port());
  const std::map<std::string, std::string> env{
      {"CTK_BROKER__LISTEN", "127.0.0.1:" + port},
      {"CTK_KAFKA__BOOTSTRAP", "127.0.0.1:" + port},
      {"CTK_CONTROL__ROUTER", "tcp://127.0.0.1:" + std::to_string(free_port())},
      {"CTK_CONTROL__PUB", "tcp://127.0.0.1:" + std::to_string(free_port())}};
  std::string env_line;
  for (const auto& [k, v] : env) env_line += k + "=" + v + " ";
  const auto dir = temp_dir();
  std::vector<std::unique_ptr<child>> background;
  for (std::string cmd : commands) {
    const auto replace_all = [&](const std::string& from, const std::string& to) {
      for (std::size_t at = 0; (at = cmd.find(from, at)) != std::string::npos; at += to.size())
        cmd.replace(at, from.size(), to);
    };
    replace_all("127.0.0.1:9092", "127.0.0.1:" + port);
    replace_all("build/cointicker", binary_dir() + "/cointicker");
    if (cmd.ends_with("&")) {
      cmd.pop_back();
      const int n = static_cast<int>(background.size());
      background.push_back(std::make_unique<child>(std::vector<std::string>{"/bin/sh", "-c", "exec " + cmd},
                                                   dir + "/bg" + std::to_string(n) + ".out",
                                                   dir + "/bg" + std::to_string(n) + ".err", env, src));
      if (n == 0) {  // the broker: ready once it printed its address
        ASSERT_TRUE(wait_until([&] { return !background[0]->out().empty(); }, std::chrono::seconds(20)))
            << background[0]->err();
      }
      continue;
    }
    std::string out;
    ASSERT_EQ(run("cd " + src + " && " + env_line + cmd + " 2>&1", &out), 0) << cmd << "\n" << out;
    if (cmd.find(" -L") != std::string::npos) {
      EXPECT_NE(out.find("ctk.raw"), std::string::npos) << out;
    }
    if (cmd.find("tail raw") != std::string::npos) {
      EXPECT_NE(out.find("\"source\":\"demo\""), std::string::npos) << out;
    }
    if (cmd.find("crawl upbit coinness --wait") != std::string::npos) {
      EXPECT_TRUE(std::regex_search(out, std::regex("upbit +ok +8 records +0 errors"))) << out;
      EXPECT_TRUE(std::regex_search(out, std::regex("coinness +ok "))) << out;
    }
  }
  for (auto it = background.rbegin(); it != background.rend(); ++it) {
    (*it)->signal(SIGTERM);
    EXPECT_EQ((*it)->wait(std::chrono::seconds(30)), 0) << (*it)->err();
  }
}
