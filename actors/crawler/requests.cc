#include "actors/crawler/requests.h"

#include <unistd.h>

#include <chrono>

#include "messages/envelope.h"

namespace ctk::crawler {

namespace {
kafka::properties props_of(const cfg::loaded_config& c, const std::string& client_id) {
  kafka::properties p = c.cluster.kafka.properties;
  p["bootstrap.servers"] = c.cluster.kafka.bootstrap;
  p["client.id"] = client_id;
  return p;
}
}  // namespace

std::unique_ptr<kafka::follower> open_report_reader(const cfg::loaded_config& c, const std::string& client_id,
                                                    std::string& err) {
  const std::string reports = c.cluster.kafka.prefix + "reports";
  const kafka::properties props = props_of(c, client_id);
  std::vector<kafka::topic_info> topics;
  if (!kafka::list_topics(props, reports, topics, err) || topics.empty()) {
    if (err.empty()) err = "no topic " + reports;
    err += " (bootstrap " + c.cluster.kafka.bootstrap + ")";
    return nullptr;
  }
  std::vector<kafka::topic_partition> from;
  for (const auto& p : topics[0].partitions) from.push_back({reports, p.partition, std::max<std::int64_t>(0, p.high)});
  auto reader = kafka::follower::create(props, from, err);
  if (!reader) err = reports + ": " + err;
  return reader;
}

bool publish_crawls(const cfg::loaded_config& c, const std::string& client_id, const std::vector<std::string>& sources,
                    bool force, std::map<std::string, std::string>& pending, std::string& err) {
  const std::string control = c.cluster.kafka.prefix + "control";
  auto prod = kafka::producer::create(props_of(c, client_id), err);
  if (!prod) return false;
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  const auto ms = msg::utc_now_ms();
  static std::atomic<int> seq{0};
  for (const auto& source : sources) {
    msg::crawl_command cmd;
    cmd.id = "manual-" + std::string(host) + "-" + std::to_string(ms) + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(seq.fetch_add(1));
    cmd.source = source;
    cmd.reason = "manual";
    cmd.requested_at = msg::utc_now_iso();
    if (force) cmd.force = true;
    std::string json;
    msg::encode(cmd, json);
    if (!prod->produce(control, -1, cmd.source, json, &err)) {
      err = control + ": " + err;
      return false;
    }
    pending[cmd.id] = cmd.source;
  }
  if (!prod->flush(err)) {
    err = "the commands were not acknowledged: " + err;
    return false;
  }
  return true;
}

void await_reports(kafka::follower& reader, std::map<std::string, std::string>& pending, int timeout_ms,
                   const std::atomic<bool>& stop, const std::function<void(const msg::crawl_report&)>& on_report) {
  msg::json_decoder dec;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pending.empty() && !stop.load() && std::chrono::steady_clock::now() < deadline) {
    kafka::message_ptr m = reader.poll(200);
    if (!m || m->err) continue;
    msg::crawl_report rep;
    msg::decode_error derr;
    if (!dec.decode(kafka::payload(*m), rep, derr)) continue;
    auto it = pending.find(rep.id);
    if (it == pending.end()) continue;  // someone else's crawl
    pending.erase(it);
    on_report(rep);
  }
}

}  // namespace ctk::crawler
