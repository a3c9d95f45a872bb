// The sinks' own write path, without Kafka: records are handed to the
// actor as the runner would (handle, flush per 1,000, flush_all at the
// end), so the figure compares with `cat` and `psql \copy` of the same
// bytes and rows (benchmarks/sink_throughput.sh runs all of them).
//
//   sink_bench gen  --records N --jsonl F --tsv F [--kcat F]   the records, in each form
//   sink_bench file --records N --root DIR          hdfs-sink into file://DIR
//   sink_bench db   --records N --dsn DSN           db-sink into PostgreSQL
// Prints: records bytes seconds records/s MB/s (peak RSS is measured on the
// real processes by the script: this one holds all records in memory)
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "actors/registry.h"
#include "pipeline/process.h"

namespace {

std::string id_of(long i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016lx%016lx", 0xbe4c4UL, static_cast<unsigned long>(i));
  return buf;
}

std::string record(long i) {
  return R"({"v":1,"id":")" + id_of(i) +
         R"(","source":"upbit","kind":"market","fetched_at":"2026-11-28T10:00:00.123Z","url":"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW","trace":"6f1c2a9e-3b7d-4c55-9a0e-1f2d3c4b5a69","data":{"symbol":"KRW-C)" +
         std::to_string(i) + R"(","price":)" + std::to_string(80123456.5 + static_cast<double>(i)) +
         R"(,"volume_24h":1234.5678,"change_24h":-0.0108,"timestamp":"2026-11-28T09:59:59.000Z"}})";
}

class counting_emitter final : public ctk::pipeline::emitter {
 public:
  void emit(std::string_view, std::string_view, std::string_view, std::int32_t) override { ++emitted; }
  bool dead_letter(std::string_view, std::int32_t, std::int64_t, std::string_view, std::string_view,
                   const ctk::pipeline::outcome& o) override {
    std::cerr << "dead letter: " << o.reason << "\n";
    ++emitted;
    return true;
  }
  long emitted = 0;
};

}  // namespace

int main(int argc, char** argv) {
  ctk::pipeline::init_logging("sink_bench", "warn");  // logs to stderr: stdout is the result line
  CLI::App app{"sink write-path benchmark"};
  app.require_subcommand(1);
  long n = 100000;
  std::string jsonl, tsv, root, dsn;
  auto* gen = app.add_subcommand("gen", "write the records as JSON Lines and as a TSV for \\copy");
  gen->add_option("--records", n);
  gen->add_option("--jsonl", jsonl)->required();
  gen->add_option("--tsv", tsv)->required();
  std::string kcat_file;
  gen->add_option("--kcat", kcat_file, "also KEY:VALUE lines for kcat -P -K:");
  auto* file = app.add_subcommand("file", "hdfs-sink into file://DIR");
  file->add_option("--records", n);
  file->add_option("--root", root)->required();
  long run = 64;
  app.add_option("--run", run, "records per partition in a row, as fetched (default 64)");
  auto* db = app.add_subcommand("db", "db-sink into PostgreSQL");
  db->add_option("--records", n);
  db->add_option("--dsn", dsn)->required();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  if (*gen) {
    std::ofstream j(jsonl), t(tsv), k;
    if (!kcat_file.empty()) k.open(kcat_file);
    for (long i = 0; i < n; ++i) {
      j << record(i) << "\n";
      if (k.is_open()) k << id_of(i) << ":" << record(i) << "\n";
      t << id_of(i) << "\tupbit\tKRW-C" << i << "\t" << std::to_string(80123456.5 + static_cast<double>(i))
        << "\t1234.5678\t-0.0108\t2026-11-28T09:59:59.000Z\t2026-11-28T10:00:00.123Z\t6f1c2a9e-3b7d-4c55-9a0e-"
           "1f2d3c4b5a69\n";
    }
    return 0;
  }

  ctk::cfg::loaded_config cfg;
  cfg.cluster.hdfs.url = "file://" + root;
  cfg.cluster.postgres.dsn = dsn;
  const char* actor_name = *file ? "hdfs-sink" : "db-sink";
  ctk::pipeline::metrics_registry metrics;
  auto sink = ctk::actors::find(actor_name)->make({cfg, "bench/" + std::string(actor_name) + "/0", metrics});
  std::vector<std::string> values, keys;
  values.reserve(static_cast<std::size_t>(n));
  keys.reserve(static_cast<std::size_t>(n));
  std::size_t bytes = 0;
  for (long i = 0; i < n; ++i) {
    values.push_back(record(i));
    keys.push_back(id_of(i));
    bytes += values.back().size() + 1;
  }
  const std::string topic = "ctk.unique";
  std::vector<ctk::kafka::topic_partition> parts;
  for (int p = 0; p < 16; ++p) parts.push_back({topic, p, 0});
  sink->on_assign(parts);
  counting_emitter out;
  double flush_s = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    // The order a consumer sees: runs of `run` records from one partition (a
    // fetched message set), the partitions taking turns.
    const long chunk = i / (16 * run), within = i % (16 * run);
    const auto part = static_cast<std::int32_t>(within / run);
    const std::int64_t offset = chunk * run + within % run;
    const auto u = static_cast<std::size_t>(i);
    ctk::pipeline::input in{topic, part, offset, keys[u], values[u]};
    if (sink->handle(in, out).v != ctk::pipeline::verdict::ok) return 1;
    if ((i + 1) % 1000 == 0) {
      const auto f0 = std::chrono::steady_clock::now();
      while (sink->flush(out).v == ctk::pipeline::verdict::retry) {
      }
      flush_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
    }
  }
  const auto f0 = std::chrono::steady_clock::now();
  while (sink->flush_all(out).v == ctk::pipeline::verdict::retry) {
  }
  const double final_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "handle %.3f s, flush %.3f s, final flush (commit) %.3f s\n", s - flush_s - final_s, flush_s,
               final_s);
  std::printf("%ld %zu %.3f %.0f %.1f\n", n, bytes, s, static_cast<double>(n) / s,
              static_cast<double>(bytes) / s / 1e6);
  return out.emitted == 0 ? 0 : 1;
}
