#include "batch/backfill.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "actors/db_sink/db_sink.h"
#include "actors/hdfs_sink/records.h"
#include "pipeline/actor_context.h"

namespace ctk::batch {

namespace {

constexpr std::string_view topic_prefix = "hdfs:";

// db-sink's dead letters (rows PostgreSQL refused), reported with their file
// and record instead of produced.
class refusals final : public pipeline::emitter {
 public:
  explicit refusals(backfill_progress& p) : p_(p) {}
  void emit(std::string_view, std::string_view, std::string_view, std::int32_t) override {}
  bool dead_letter(std::string_view topic, std::int32_t, std::int64_t offset, std::string_view, std::string_view,
                   const pipeline::outcome& why) override {
    add(topic.substr(topic_prefix.size()), offset + 1, why.reason);
    return true;
  }
  void add(std::string_view path, std::int64_t n, const std::string& why) {
    ++p_.refused;
    if (p_.refusals.size() < 20) p_.refusals.push_back(std::string(path) + ":" + std::to_string(n) + ": " + why);
  }

 private:
  backfill_progress& p_;
};

// flush() or flush_all() until it succeeds: the database may be down for a
// while (db-sink keeps its batch and writes it again); `retries` backoffs.
bool settle(pipeline::actor& sink, pipeline::emitter& em, bool all, const cfg::runtime_settings& rt, int retries,
            const std::atomic<bool>& stop, std::string& err) {
  auto wait = rt.retry_initial.value();
  for (int attempt = 0;; ++attempt) {
    const auto o = all ? sink.flush_all(em) : sink.flush(em);
    if (o.v == pipeline::verdict::ok) return true;
    if (attempt >= retries || (stop.load() && attempt > 0)) {
      err = o.reason;
      return false;
    }
    spdlog::warn("backfill: {}; retrying in {} ms", o.reason,
                 std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
    std::this_thread::sleep_for(wait);
    wait = std::min<std::chrono::milliseconds>(rt.retry_max.value(), wait * 2);
  }
}

std::string_view kind_of(simdjson::dom::parser& parser, std::string_view json) {
  simdjson::dom::element root;
  std::string_view kind;
  if (parser.parse(json.data(), json.size()).get(root) || root["kind"].get(kind)) return {};
  return kind;
}

}  // namespace

bool backfill(const cfg::loaded_config& c, hdfs::store& s, const backfill_options& o, const std::atomic<bool>& stop,
              const std::function<void(const backfill_progress&)>& report, backfill_progress& p, std::string& err) {
  std::vector<raw_file> files;
  for (const auto& day : o.days) {
    int folders = 0;
    if (!list_day(s, day, files, folders, err)) return false;
  }
  p.files = static_cast<std::int64_t>(files.size());
  for (const auto& f : files) p.bytes += f.bytes;

  pipeline::metrics_registry metrics;
  const pipeline::actor_context ctx{c, "backfill", metrics};
  auto sink = db::make_db_sink(ctx);
  std::vector<kafka::topic_partition> parts;
  for (const auto& f : files) parts.push_back({std::string(topic_prefix) + f.path, 0, 0});
  if (!o.restart) sink->on_assign(parts);  // the stored progress of each file

  refusals em(p);
  simdjson::dom::parser parser;
  const auto& rt = c.cluster.runtime;
  std::int64_t since_flush = 0, since_report = 0;
  for (std::size_t i = 0; i < files.size() && !stop.load(); ++i) {
    const auto& f = files[i];
    hdfs::error e;
    auto bytes = s.read(f.path, e);
    if (!bytes) {
      err = "cannot read " + f.path + ": " + e.message;
      break;
    }
    const std::string topic = parts[i].topic;
    const std::int64_t resume = parts[i].offset;
    bool ok = true;
    const std::int64_t base = p.bytes_done;
    std::int64_t in_file = 0;  // bytes of the file's lines seen (an Avro file's JSON: capped below)
    const bool read = hdfs::for_each_record(
        f.path, *bytes,
        [&](std::string_view json, std::int64_t n) {
          if (!ok || stop.load()) return;
          in_file += static_cast<std::int64_t>(json.size()) + 1;
          p.bytes_done = base + std::min(in_file, f.bytes);
          if (n - 1 < resume) return void(++p.resumed);
          if (!o.kinds.empty() && !o.kinds.count(std::string(kind_of(parser, json)))) return void(++p.other_kinds);
          const auto out = sink->handle({topic, 0, n - 1, {}, json}, em);
          if (out.v == pipeline::verdict::dead_letter) em.add(f.path, n, out.reason);
          ++p.records;
          if (++since_flush >= rt.batch_max_messages) {
            since_flush = 0;
            ok = settle(*sink, em, false, rt, o.retries, stop, err);
          }
          if (++since_report >= 50'000) {
            since_report = 0;
            report(p);
          }
        },
        err);
    if (!ok) break;
    if (!read) break;
    ++p.files_done;
    p.bytes_done = base + f.bytes;
    report(p);
  }
  // What was handed over is committed (and its progress stored) before returning.
  std::string flush_err;
  const bool flushed = settle(*sink, em, true, rt, o.retries, stop, flush_err);
  report(p);
  if (err.empty() && !flushed) err = "PostgreSQL: " + flush_err;
  if (err.empty() && stop.load()) err = "interrupted";
  return err.empty();
}

}  // namespace ctk::batch
