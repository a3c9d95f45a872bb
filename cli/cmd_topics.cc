// `cointicker topics`: topics, partitions, end offsets and group lag.
#include <cstdio>
#include <iostream>

#include "brokers/topic_report.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {
struct topics_opts {
  std::vector<std::string> groups;
  bool per_partition = false, create = false, json = false;
  int replication = 3;
};

int run_topics(const global_options& g, topics_opts o) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  pipeline::init_logging("topics", g.log_level.empty() ? "warn" : g.log_level);
  kafka::properties props = client_props(c, "cointicker-topics");
  if (!broker_answers(props, o.create ? "topics --create" : "topics")) return exit_failure;
  std::string err;
  if (o.create) {
    const auto& p = c.cluster.kafka.prefix;
    if (!kafka::create_topics(props, pipeline_topic_partitions(c), o.replication, err)) {
      std::cerr << "topics --create: " << err
                << " (the embedded broker has no CreateTopics: it creates the pipeline's topics itself)\n";
      return exit_failure;
    }
    (o.json ? std::cerr : std::cout) << "created the pipeline's topics under prefix '" << p
                                     << "' (existing ones left as they are)\n";
  }
  if (o.groups.empty())
    for (const char* a : {"crawler", "validator", "dedup", "hdfs-sink", "db-sink", "analyzer"})
      o.groups.push_back(c.cluster.kafka.prefix + a);
  std::vector<kafka::topic_report> topics;
  if (!kafka::report_topics(props, o.groups, topics, err)) {
    std::cerr << "topics: " << err << " (bootstrap " << c.cluster.kafka.bootstrap << ")\n";
    return exit_failure;
  }
  if (o.json) {
    topics_json out;
    for (const auto& r : topics) out.topics.push_back(topic_item_of(r));
    print_json(out);
    return exit_ok;
  }
  std::printf("%-28s %5s %12s %12s  %s\n", "TOPIC", "PARTS", "MESSAGES", "END", "GROUP LAG (committed groups only)");
  for (const auto& r : topics) {
    std::string lags;
    for (const auto& l : r.lags) lags += l.group + "=" + std::to_string(l.lag) + " ";
    std::printf("%-28s %5zu %12lld %12lld  %s\n", r.topic.name.c_str(), r.topic.partitions.size(),
                static_cast<long long>(r.messages), static_cast<long long>(r.end), lags.c_str());
    if (o.per_partition)
      for (const auto& p : r.topic.partitions)
        std::printf("  %-26d %5s %12lld %12lld  low=%lld\n", p.partition, "", static_cast<long long>(p.high - p.low),
                    static_cast<long long>(p.high), static_cast<long long>(p.low));
  }
  return exit_ok;
}
}  // namespace

void add_topics_command(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<topics_opts>();
  auto* cmd = app.add_subcommand("topics", "List topics with partitions, message counts, end offsets and group lag");
  cmd->add_option("--group", o->groups, "consumer group to show lag for (repeatable; default: the pipeline's groups)");
  cmd->add_flag("--partitions", o->per_partition, "one line per partition too");
  cmd->add_flag("--json", o->json,
                "print {\"topics\":[{name, partitions, messages, end, lags:[{group, lag}]}]}, the REST API's shape");
  cmd->add_flag("--create", o->create,
                "first create the pipeline's topics with kafka.topics partition counts (real Kafka; dedup.state is "
                "created compacted)");
  cmd->add_option("--replication", o->replication, "replication factor for --create")->capture_default_str();
  cmd->callback([&g, &rc, o] { rc = run_topics(g, *o); });
}

}  // namespace ctk::cli
