// `cointicker tail TOPIC`: print envelopes, one per line, for debugging.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <map>
#include <set>

#include "actors/validator/normalize.h"
#include "cli/commands.h"
#include "config/duration.h"
#include "messages/envelope.h"
#include "messages/json.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {

struct tail_options {
  std::string topic;
  bool from_beginning = false;
  bool follow = false;
  bool count = false;
  bool keys = false;
  long n = -1;
  std::vector<std::string> filters;
  std::string group;
  std::string offset;                    // --offset: beginning | end | N | -N
  std::vector<std::int32_t> partitions;  // --partition, repeatable; empty: all
  std::string since;                     // --since: a time or a duration ago
  std::int64_t since_ms = -1;            // parsed
};

struct filter_t {
  std::vector<std::pair<std::string, std::string>> eq;
  msg::json_decoder dec;
  bool match(std::string_view value) {
    if (eq.empty()) return true;
    simdjson::dom::element root;
    msg::decode_error err;
    if (!dec.parse(value, root, err)) return false;
    for (const auto& [k, want] : eq) {
      simdjson::dom::element v;
      if (root[k].get(v)) return false;
      std::string_view s;
      if (v.get_string().get(s)) {
        if (simdjson::minify(v) != want) return false;
      } else if (s != want) {
        return false;
      }
    }
    return true;
  }
};

void print(const kafka::message& m, bool keys) {
  if (keys) std::cout << m.partition << '\t' << m.offset << '\t' << kafka::key(m) << '\t';
  std::cout << kafka::payload(m) << '\n';
}

// --filter FIELD=VALUE, repeated; false (said on stderr) when one is malformed.
bool parse_filters(const std::vector<std::string>& specs, filter_t& filter) {
  for (const auto& f : specs) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "tail: --filter takes FIELD=VALUE, got '" << f << "'\n";
      return false;
    }
    filter.eq.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  return true;
}

// Where each selected partition is read from: --offset, --since, the
// beginning (--from-beginning, --count), the last n messages (the
// default), or the end (--follow).
bool start_offsets(const kafka::properties& props, const kafka::topic_info& t, const tail_options& o, bool last_n,
                   long n, std::vector<kafka::topic_partition>& start) {
  kafka::topic_info only{t.name, {}};
  for (const auto& p : t.partitions)
    if (o.partitions.empty() || std::count(o.partitions.begin(), o.partitions.end(), p.partition))
      only.partitions.push_back(p);
  for (auto want : o.partitions)
    if (std::none_of(only.partitions.begin(), only.partitions.end(),
                     [&](const auto& p) { return p.partition == want; })) {
      std::cerr << "tail: " << t.name << " has no partition " << want << " (it has 0.." << t.partitions.size() - 1
                << ")\n";
      return false;
    }
  std::string err;
  if (o.since_ms >= 0) {
    if (!kafka::offsets_for_time(props, only, o.since_ms, start, err)) std::cerr << "tail: " << err << "\n";
    return err.empty();
  }
  const std::int64_t at = o.offset.empty() || o.offset == "beginning" || o.offset == "end" ? 0 : std::stoll(o.offset);
  for (const auto& p : only.partitions) {
    std::int64_t off = kafka::offset_end;
    if (o.offset == "beginning" || o.from_beginning || o.count)
      off = kafka::offset_beginning;
    else if (!o.offset.empty() && o.offset != "end")
      off = at < 0 ? std::max(p.low, p.high + at) : std::clamp(at, p.low, p.high);
    else if (last_n)
      off = std::max(p.low, p.high - n);
    start.push_back({t.name, p.partition, off});
  }
  return true;
}

// Checks how the start options combine and parses --offset and --since;
// false (said on stderr) on a usage error.
bool check_start_options(tail_options& o) {
  const int starts = o.from_beginning + !o.offset.empty() + !o.since.empty();
  if (starts > 1) {
    std::cerr << "tail: give one of --from-beginning, --offset, --since\n";
    return false;
  }
  if (!o.group.empty() && (starts || !o.partitions.empty())) {
    std::cerr << "tail: --group reads from the group's committed offsets, over every partition; it takes no "
                 "--from-beginning, --offset, --since or --partition\n";
    return false;
  }
  if (!o.offset.empty() && o.offset != "beginning" && o.offset != "end") {
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(o.offset.data(), o.offset.data() + o.offset.size(), v);
    if (ec != std::errc() || p != o.offset.data() + o.offset.size()) {
      std::cerr << "tail: --offset takes beginning, end, an offset N or -N (N before the end), got '" << o.offset
                << "'\n";
      return false;
    }
  }
  if (!o.since.empty()) {
    std::string why;
    if (auto ago = cfg::parse_duration_ms(o.since)) {
      o.since_ms = msg::utc_now_ms() - *ago;
    } else if (auto t = validator::parse_time_ms(o.since, "UTC", why)) {
      o.since_ms = *t;
    } else {
      std::cerr << "tail: --since takes a time (2026-12-01T09:00:00Z, zoneless = UTC; epoch seconds or ms) or a "
                   "duration ago (90s, 10m, 2h, 1d), got '"
                << o.since << "'\n";
      return false;
    }
  }
  return true;
}

// The last n of the messages kept, oldest first by their timestamps.
void print_last(std::vector<kafka::message_ptr>& kept, long n, bool keys) {
  std::stable_sort(kept.begin(), kept.end(),
                   [](const auto& a, const auto& b) { return kafka::timestamp_of(*a) < kafka::timestamp_of(*b); });
  const std::size_t from = kept.size() > static_cast<std::size_t>(n) ? kept.size() - static_cast<std::size_t>(n) : 0;
  for (std::size_t i = from; i < kept.size(); ++i) print(*kept[i], keys);
}

// The topic's partitions and watermarks, asked first: a missing topic is
// an error, not a wait, and the error lists the topics there are (pipeline
// topics by their short names).
bool describe_topic(const cfg::loaded_config& c, const kafka::properties& props, const std::string& name,
                    kafka::topic_info& out) {
  std::vector<std::string> names;
  if (!broker_answers(props, "tail", &names)) return false;
  const std::string topic = resolve_topic(c, name);
  if (std::find(names.begin(), names.end(), topic) == names.end()) {
    const std::string& prefix = c.cluster.kafka.prefix;
    for (auto& n : names)
      if (n.starts_with(prefix)) n = n.substr(prefix.size());
    std::sort(names.begin(), names.end());
    say_unknown("tail", "topic", name, names);
    return false;
  }
  std::vector<kafka::topic_info> topics;
  std::string err;
  if (!kafka::list_topics(props, topic, topics, err) || topics.empty()) {
    std::cerr << "tail: " << (err.empty() ? "topic '" + topic + "' went away" : err) << " (bootstrap "
              << c.cluster.kafka.bootstrap << ")\n";
    return false;
  }
  out = std::move(topics[0]);
  return true;
}

// Where tail reads from: a member of --group (its offsets committed at the
// end), or a follower of every partition from its start offset.
struct tail_reader {
  std::unique_ptr<kafka::consumer> grouped;
  std::unique_ptr<kafka::follower> follower;

  bool open(kafka::properties props, const tail_options& o, const std::string& topic,
            const std::vector<kafka::topic_partition>& start, std::string& err) {
    props["enable.partition.eof"] = "true";
    // assign() needs a group.id in librdkafka 2.0; this one never joins or commits.
    props["group.id"] = "cointicker-tail-" + std::to_string(::getpid());
    if (o.group.empty()) return (follower = kafka::follower::create(props, start, err)) != nullptr;
    grouped = kafka::consumer::create(props, o.group, nullptr, err);
    return grouped && grouped->subscribe({topic}, err);
  }
  kafka::message_ptr poll(int ms) { return grouped ? grouped->poll(ms) : follower->poll(ms); }
  void finish(const std::string& topic, const std::map<std::int32_t, std::int64_t>& to_commit) {
    if (!grouped) return;
    std::vector<kafka::topic_partition> offs;
    for (const auto& [p, off] : to_commit) offs.push_back({topic, p, off});
    std::string err;
    if (!grouped->commit(offs, err)) std::cerr << "tail: " << err << "\n";
    grouped->close();
  }
};

int run_tail(const global_options& g, tail_options o) {
  filter_t filter;
  if (!parse_filters(o.filters, filter) || !check_start_options(o)) return exit_usage;
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  pipeline::init_logging("tail", g.log_level.empty() ? "warn" : g.log_level);
  auto& stop = pipeline::install_stop_signals();
  const std::string topic = resolve_topic(c, o.topic);

  kafka::properties props = client_props(c, "cointicker-tail");
  std::string err;
  kafka::topic_info info;
  if (!describe_topic(c, props, o.topic, info)) return exit_failure;
  const bool last_n =
      !o.from_beginning && !o.follow && o.group.empty() && !o.count && o.offset.empty() && o.since.empty();
  const long n = o.n >= 0 ? o.n : (last_n ? 10 : -1);
  std::vector<kafka::topic_partition> start;
  if (!start_offsets(props, info, o, last_n, n, start)) return exit_failure;
  tail_reader reader;
  if (!reader.open(props, o, topic, start, err)) {
    std::cerr << "tail: " << err << "\n";
    return exit_failure;
  }

  std::size_t partitions = start.size();
  std::set<std::int32_t> at_eof;
  std::vector<kafka::message_ptr> kept;  // last-N mode
  long printed = 0, matched = 0;
  std::map<std::int32_t, std::int64_t> to_commit;
  while (!stop.load()) {
    kafka::message_ptr m = reader.poll(200);
    if (!m) continue;
    if (kafka::is_partition_eof(*m)) {
      at_eof.insert(m->partition);
      if (!o.follow && at_eof.size() >= partitions) break;
      continue;
    }
    if (m->err) {
      std::cerr << "tail: " << kafka::error_of(*m) << "\n";
      if (kafka::is_fatal_read_error(*m)) return exit_failure;
      continue;
    }
    at_eof.erase(m->partition);
    if (reader.grouped) {
      to_commit[m->partition] = m->offset + 1;
      partitions = std::max<std::size_t>(1, reader.grouped->assignment().size());
    }
    if (o.since_ms >= 0 && kafka::timestamp_of(*m) < o.since_ms) continue;
    if (!filter.match(kafka::payload(*m))) continue;
    ++matched;
    if (o.count) continue;
    if (last_n) {
      kept.push_back(std::move(m));
      continue;
    }
    print(*m, o.keys);
    if (n >= 0 && ++printed >= n) break;
  }
  if (last_n) print_last(kept, n, o.keys);
  if (o.count) std::cout << matched << "\n";
  std::cout.flush();
  reader.finish(topic, to_commit);
  return exit_ok;
}

}  // namespace

void add_tail_command(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<tail_options>();
  auto* cmd = app.add_subcommand("tail",
                                 "Print messages of a topic, one per line. Default: the last 10, then exit. "
                                 "TOPIC is a pipeline topic (raw, valid, unique, deadletter, control, insights, "
                                 "dedup.state; the prefix is added) or any full topic name");
  cmd->add_option("topic", o->topic, "topic to read")->required();
  cmd->add_flag("--from-beginning", o->from_beginning, "start at the oldest message and stop at the end");
  cmd->add_option("--offset", o->offset,
                  "start at beginning, end, offset N, or -N (N before the end) of each partition; stop at the end");
  cmd->add_option("--partition", o->partitions, "read only partition P (repeatable)");
  cmd->add_option("--since", o->since,
                  "start at the first message at or after a time (2026-12-01T09:00:00Z) or a duration ago (10m, "
                  "2h); stop at the end");
  cmd->add_option("-n", o->n, "print at most N messages (default: the last 10 when no start is given)");
  cmd->add_flag("--follow", o->follow, "keep printing new messages until Ctrl-C");
  cmd->add_option("--filter", o->filters,
                  "FIELD=VALUE on the envelope's top-level fields (repeatable; all must match)");
  cmd->add_option("--group", o->group,
                  "consume as consumer group G from its committed offsets and commit what was read");
  cmd->add_flag("--count", o->count, "print only the number of matching messages (whole topic)");
  cmd->add_flag("--keys", o->keys, "prefix each line with partition, offset and key (tab-separated)");
  cmd->callback([&g, &rc, o] { rc = run_tail(g, *o); });
}

}  // namespace ctk::cli
