// deploy/: the systemd units pass `systemd-analyze verify` and rate under 4
// in `systemd-analyze security`, and
// cluster-deploy.sh prints the right actions for the shipped four-node
// cluster.yaml in a dry run, reports unreachable nodes (real ssh, a closed
// port) without stopping at the first, and refuses a config that does not load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/process.h"

namespace {
using namespace ctk::test;
const std::string source = CTK_SOURCE_DIR;
const std::string script = source + "/deploy/cluster-deploy.sh --binary " + binary_dir() + "/cointicker";

// The lines of `out` from "== NAME " up to the next "== " or blank line.
std::string section(const std::string& out, const std::string& name) {
  const auto p = out.find("== " + name + " ");
  if (p == std::string::npos) return {};
  auto end = out.find("\n== ", p + 1);
  end = std::min(end, out.find("\n\n", p));
  return out.substr(p, end == std::string::npos ? std::string::npos : end - p);
}
}  // namespace

TEST(deploy, the_systemd_units_pass_systemd_analyze_verify) {
  const std::string dir = temp_dir();
  // The units name /usr/local/bin/cointicker, where the deploy puts it;
  // verify checks that the binary exists, so it is pointed at the build.
  for (const char* unit : {"cointicker-node@.service", "cointicker-actor@.service", "cointicker-serve.service"}) {
    std::string text = read_file(source + "/deploy/systemd/" + unit);
    ASSERT_NE(text.find("ExecStart=/usr/local/bin/cointicker --config /etc/cointicker "), std::string::npos) << unit;
    text = std::regex_replace(text, std::regex("/usr/local/bin/cointicker"), binary_dir() + "/cointicker");
    std::ofstream(dir + "/" + unit) << text;
  }
  std::string out;
  const int rc = run("cd " + dir +
                         " && systemd-analyze verify --man=no ./cointicker-node@worker1.service "
                         "./cointicker-actor@validator.service ./cointicker-serve.service 2>&1",
                     &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "systemd-analyze printed warnings";
  // Hardened: each unit's exposure under 4 ("OK"), offline (no systemd needed).
  for (const char* unit :
       {"cointicker-node@worker1.service", "cointicker-actor@validator.service", "cointicker-serve.service"}) {
    EXPECT_EQ(run("cd " + dir + " && systemd-analyze security --offline=true --threshold=39 ./" + unit + " 2>&1", &out),
              0)
        << unit << "\n"
        << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("Overall exposure level for [^:]+: [0-3]\\.[0-9] "))) << out;
  }
  // And it would catch a broken unit: the check is not vacuous.
  std::ofstream(dir + "/cointicker-node@.service", std::ios::app) << "[Service]\nRestart=sometimes\n";
  run("cd " + dir + " && systemd-analyze verify --man=no ./cointicker-node@worker1.service 2>&1", &out);
  EXPECT_NE(out.find("Failed to parse service restart specifier"), std::string::npos) << out;
}

TEST(deploy, a_dry_run_prints_every_action_for_each_of_four_nodes_and_contacts_none) {
  std::string out;
  ASSERT_EQ(run(script + " --dry-run --user pi --config " + source + "/config 2>&1", &out), 0) << out;
  const std::vector<std::tuple<std::string, std::string, std::string>> nodes{
      {"master", "10.42.0.1", "db-sink=1,scheduler=1,validator=1"},
      {"worker1", "10.42.0.11", "crawler=1,dedup=1,validator=1"},
      {"worker2", "10.42.0.12", "crawler=1,dedup=1,hdfs-sink=1"},
      {"worker3", "10.42.0.13", "analyzer=1,crawler=1,hdfs-sink=1"}};
  for (const auto& [name, host, actors] : nodes) {
    const std::string s = section(out, name);
    ASSERT_FALSE(s.empty()) << name << "\n" << out;
    const std::string t = "pi@" + host;
    EXPECT_NE(s.find(": " + actors), std::string::npos) << s;
    // In this order: architecture, packages, user, folders, binary, config,
    // units, daemon-reload, enable, restart.
    const std::vector<std::string> steps{
        t + " dpkg --print-architecture",
        t + " sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ",
        t + " sudo sh -c 'id -u cointicker >/dev/null 2>&1 || useradd --system",
        t + " sudo mkdir -p /etc/cointicker /var/lib/cointicker",
        "/cointicker " + t + ":/usr/local/bin/cointicker\n",
        "/config/cluster.yaml " + source + "/config/sources.yaml " + t + ":/etc/cointicker/\n",
        "/config/lexicons " + t + ":/etc/cointicker/\n",
        "/index.js " + t + ":/etc/cointicker/lexicons/afinn-165-financialmarketnews.js\n",
        "/deploy/systemd/cointicker-node@.service " + source + "/deploy/systemd/cointicker-serve.service " + t +
            ":/etc/systemd/system/\n",
        t + " sudo systemctl daemon-reload\n",
        t + " sudo systemctl enable cointicker-node@" + name + ".service\n",
        t + " sudo systemctl restart cointicker-node@" + name + ".service"};
    std::size_t at = 0;
    for (const auto& step : steps) {
      const auto p = s.find(step, at);
      EXPECT_NE(p, std::string::npos) << name << ": missing or out of order: " << step << "\n" << s;
      if (p != std::string::npos) at = p;
    }
    // The master also gets the dashboard: the web UI, then its unit.
    const auto web = s.find("/web/ " + t + ":/usr/local/share/cointicker/web/\n", at);
    const auto serve = s.find(t + " sudo systemctl restart cointicker-serve.service", at);
    if (name == "master") {
      EXPECT_NE(web, std::string::npos) << s;
      EXPECT_NE(serve, std::string::npos) << s;
      EXPECT_LT(web, serve) << s;
    } else {
      EXPECT_EQ(serve, std::string::npos) << "the dashboard runs on the master only\n" << s;
    }
    // The runtime libraries the binary links against are installed.
    for (const char* pkg : {"librdkafka1", "libzmq5", "libpqxx-6.4", "libcurl4", "rsync"})
      EXPECT_NE(s.find(std::string(" ") + pkg), std::string::npos) << pkg << "\n" << s;
    EXPECT_NE(out.find(name + std::string(10 - name.size(), ' ') + " " + t), std::string::npos)
        << "no summary line for " << name << "\n"
        << out;
  }
  EXPECT_NE(out.find("dry run: nothing was contacted or changed"), std::string::npos) << out;
  EXPECT_EQ(out.find("FAILED"), std::string::npos) << out;

  ASSERT_EQ(run(script + " --dry-run --node worker2 --config " + source + "/config 2>&1", &out), 0) << out;
  EXPECT_FALSE(section(out, "worker2").empty()) << out;
  EXPECT_TRUE(section(out, "master").empty()) << "--node worker2 deploys worker2 only\n" << out;
  EXPECT_EQ(run(script + " --dry-run --node nosuch --config " + source + "/config 2>&1", &out), 2);
  EXPECT_NE(out.find("no node named 'nosuch'"), std::string::npos) << out;

  // The control plane's CURVE keys: the server's secret key to the master only.
  const std::string keys = temp_dir() + "/curve";
  ASSERT_EQ(run(ctk::test::binary_dir() + "/cointicker ctl keygen " + keys + " 2>&1", &out), 0) << out;
  ASSERT_EQ(run(script + " --dry-run --user pi --curve-keys " + keys + " --config " + source + "/config 2>&1", &out), 0)
      << out;
  for (const char* name : {"master", "worker1"}) {
    const std::string s = section(out, name);
    EXPECT_NE(s.find("sudo install -d -m 0750 -o root -g cointicker /etc/cointicker/curve"), std::string::npos) << s;
    EXPECT_NE(s.find(keys + "/client.key"), std::string::npos) << s;
    EXPECT_EQ(s.find(keys + "/server.key") != std::string::npos, std::string(name) == "master") << s;
  }
  EXPECT_EQ(run(script + " --dry-run --curve-keys " + keys + "/none --config " + source + "/config 2>&1", &out), 1);
  EXPECT_NE(out.find("server.key is missing"), std::string::npos) << out;
}

TEST(deploy, unreachable_nodes_are_each_reported_failed_and_a_bad_config_deploys_nothing) {
  const std::string dir = temp_dir();
  std::filesystem::copy_file(source + "/config/sources.yaml", dir + "/sources.yaml");
  std::filesystem::copy(source + "/config/lexicons", dir + "/lexicons", std::filesystem::copy_options::recursive);
  std::ofstream(dir + "/cluster.yaml") << "nodes:\n"
                                          "  - {name: a, host: 127.0.0.1, role: master, actors: {validator: 1}}\n"
                                          "  - {name: b, host: 127.0.0.2, role: worker, actors: {dedup: 1}}\n";
  std::string out;
  // Real ssh to a closed port: refused at once.
  EXPECT_EQ(run(script + " --config " + dir + " --ssh-option Port=1 2>&1", &out), 1) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\n  a +127.0.0.1 +FAILED: unreachable: .*refused"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\n  b +127.0.0.2 +FAILED: unreachable: "))) << out;

  std::ofstream(dir + "/cluster.yaml") << "nodes:\n  - {name: a, host: 127.0.0.1, role: master, actorz: {}}\n";
  EXPECT_EQ(run(script + " --config " + dir + " 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("cluster.yaml:2:46: unknown key"), std::string::npos) << "the config error names its line\n"
                                                                           << out;
  EXPECT_NE(out.find("nothing was deployed"), std::string::npos) << out;
}
