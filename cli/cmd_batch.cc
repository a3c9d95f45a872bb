// The HDFS batch side: `aggregate` (the /cleaned aggregates of a day),
// `mapreduce map|reduce` (the same computation as a Hadoop Streaming job,
// docs/hadoop.md) and `backfill` (/raw into PostgreSQL through db-sink).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "actors/analyzer/sentiment.h"
#include "batch/backfill.h"
#include "cli/commands.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {

std::unique_ptr<hdfs::store> open_store(const cfg::loaded_config& c, const std::string& url, const std::string& cmd) {
  std::string err;
  const auto& h = c.cluster.hdfs;
  auto s = hdfs::make_store(url.empty() ? h.url : url, {h.user, static_cast<int>(h.timeout.ms), h.retries}, err);
  if (!s) std::cerr << cmd << ": " << err << "\n";
  return s;
}

// The analyzer's lexicons score the news; a broken lexicon stops the command.
std::optional<analyzer::sentiment_scorer> load_scorer(const cfg::loaded_config& c, const std::string& cmd) {
  std::vector<analyzer::lexicon_error> errors;
  auto s = analyzer::sentiment_scorer::load(analyzer::lexicon_files(c.cluster.analyzer, c.dir),
                                            c.cluster.analyzer.sentiment_threshold, errors);
  if (errors.empty()) return s;
  for (const auto& e : errors) std::cerr << cmd << ": lexicon: " << e.to_string() << "\n";
  return std::nullopt;
}

// --day/--to, or --day all: every day /raw holds. nullopt: the error is printed.
std::optional<std::vector<std::string>> resolve_days(hdfs::store& s, const std::string& from, const std::string& to,
                                                     const std::string& cmd) {
  std::string err;
  std::vector<std::string> days;
  if (from == "all") {
    if (batch::stored_days(s, days, err)) return days;
  } else if (auto d = batch::day_range(from, to, err)) {
    return d;
  }
  std::cerr << cmd << ": " << err << "\n";
  return std::nullopt;
}

int run_aggregate(const global_options& g, const std::string& from, const std::string& to, const std::string& url,
                  bool if_present) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  auto store = open_store(c, url, "aggregate");
  auto scorer = load_scorer(c, "aggregate");
  if (!store || !scorer) return exit_failure;
  auto days = resolve_days(*store, from, to, "aggregate");
  if (!days) return from == "all" ? exit_failure : exit_usage;  // the store failed, or a bad date
  std::string err;
  int rc = exit_ok;
  for (const auto& day : *days) {
    batch::aggregate_report r;
    err.clear();
    const auto t0 = std::chrono::steady_clock::now();
    if (if_present && !batch::day_present(*store, day, err)) {
      if (err.empty()) {
        std::printf("aggregate %s: nothing stored for that day; skipped (--if-present)\n", day.c_str());
        continue;
      }
    }
    if (!err.empty() || !batch::aggregate_day(*store, day, &*scorer, r, err)) {
      std::cerr << "aggregate " << day << ": " << err << "; nothing written for that day\n";
      rc = exit_failure;
      continue;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "aggregate %s: %lld files, %.1f MB, %lld records (%lld duplicates dropped, %lld broken lines "
        "skipped) in %.2f s\n",
        day.c_str(), static_cast<long long>(r.files), static_cast<double>(r.bytes) / 1e6,
        static_cast<long long>(r.records), static_cast<long long>(r.duplicates), static_cast<long long>(r.broken), s);
    for (const auto& b : r.broken_lines) std::printf("  broken: %s\n", b.c_str());
    for (const auto& [path, lines] : r.written)
      std::printf("  %s: %lld lines\n", path.c_str(), static_cast<long long>(lines));
  }
  return rc;
}

// Under Hadoop (mapreduce_task_id set) a count also goes to the job's counters.
void count(const char* what) {
  if (std::getenv("mapreduce_task_id")) std::fprintf(stderr, "reporter:counter:cointicker,%s,1\n", what);
}

int run_map(const global_options& g) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  auto scorer = load_scorer(c, "mapreduce map");
  if (!scorer) return exit_failure;
  batch::mapper m(&*scorer);
  std::string line, key, value, why;
  std::int64_t n = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    if (line.empty()) continue;
    if (m.map(line, key, value, why)) {
      std::cout << key << '\t' << value << '\n';
    } else if (!why.empty()) {
      std::fprintf(stderr, "mapreduce map: line %lld: %s; skipped\n", static_cast<long long>(n), why.c_str());
      count("broken_lines");
    }
  }
  std::cout.flush();
  return std::cout ? exit_ok : exit_failure;
}

int run_reduce() {
  std::string line, current;
  std::optional<batch::group> g;
  std::int64_t n = 0;
  const auto emit = [&] {
    if (g) std::cout << g->kind() << '\t' << g->json() << '\n';
  };
  while (std::getline(std::cin, line)) {
    ++n;
    const auto tab = line.find('\t');
    const std::string_view key = std::string_view(line).substr(0, tab);
    if (tab == std::string::npos || key.find('|') == std::string_view::npos) {
      std::fprintf(stderr, "mapreduce reduce: line %lld: not KEY<TAB>VALUE from `mapreduce map`; skipped\n",
                   static_cast<long long>(n));
      count("bad_pairs");
      continue;
    }
    if (!g || key != current) {
      if (g && key < current) {
        std::fprintf(stderr,
                     "mapreduce reduce: line %lld: keys are not sorted (run `LC_ALL=C sort` between map "
                     "and reduce)\n",
                     static_cast<long long>(n));
        return exit_failure;
      }
      emit();
      current = key;
      g.emplace(key, true);
    }
    if (!g->add(std::string_view(line).substr(tab + 1))) {
      std::fprintf(stderr, "mapreduce reduce: line %lld: not a value `mapreduce map` writes; skipped\n",
                   static_cast<long long>(n));
      count("bad_pairs");
    }
  }
  emit();
  std::cout.flush();
  return std::cout ? exit_ok : exit_failure;
}

std::string eta(double seconds) {
  char b[32];
  if (seconds < 0 || seconds > 1e6) return "?";
  std::snprintf(b, sizeof b, "%d:%02d", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  return b;
}

int run_backfill(const global_options& g, batch::backfill_options o, const std::string& from, const std::string& to,
                 const std::string& url) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  auto store = open_store(c, url, "backfill");
  if (!store) return exit_failure;
  auto days = resolve_days(*store, from, to, "backfill");
  if (!days) return from == "all" ? exit_failure : exit_usage;  // the store failed, or a bad date
  o.days = *days;
  std::string err;
  pipeline::init_logging("backfill", g.log_level.empty() ? "warn" : g.log_level);
  auto& stop = pipeline::install_stop_signals();
  const bool tty = ::isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  const auto show = [&](const batch::backfill_progress& p) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - t0).count();
    if (!tty && now - last < std::chrono::seconds(1) && p.files_done < p.files) return;
    last = now;
    const double rate = s > 0 ? static_cast<double>(p.records) / s : 0;
    const double left =
        p.bytes_done > 0 ? s * static_cast<double>(p.bytes - p.bytes_done) / static_cast<double>(p.bytes_done) : -1;
    // On a terminal a bar by bytes read, redrawn in place.
    std::string bar;
    if (tty) {
      const int done = p.bytes > 0 ? static_cast<int>(20 * p.bytes_done / p.bytes) : 20;
      bar = "\r\033[K[" + std::string(static_cast<std::size_t>(done), '#') +
            std::string(static_cast<std::size_t>(20 - done), '.') + "] ";
    }
    std::fprintf(stderr, "%sbackfill: %lld/%lld files, %lld records (%.0f/s), %lld already stored, ETA %s%s",
                 bar.c_str(), static_cast<long long>(p.files_done), static_cast<long long>(p.files),
                 static_cast<long long>(p.records), rate, static_cast<long long>(p.resumed), eta(left).c_str(),
                 tty ? "" : "\n");
  };
  batch::backfill_progress p;
  bool ok = false;
  try {
    ok = batch::backfill(c, *store, o, stop, show, p, err);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (tty) std::fprintf(stderr, "\n");
  for (const auto& r : p.refusals) std::fprintf(stderr, "backfill: refused %s\n", r.c_str());
  std::printf(
      "backfill: %lld records from %lld files in %.1f s (%lld already stored, %lld refused, %lld of other "
      "kinds)\n",
      static_cast<long long>(p.records), static_cast<long long>(p.files_done),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), static_cast<long long>(p.resumed),
      static_cast<long long>(p.refused), static_cast<long long>(p.other_kinds));
  if (ok) return exit_ok;
  std::cerr << "backfill: " << err << "; run the same command again to resume where it stopped\n";
  return exit_failure;
}

}  // namespace

void add_batch_commands(CLI::App& app, global_options& g, int& rc) {
  struct days {
    std::string from, to, hdfs;
  };
  const auto day_options = [](CLI::App* cmd, days& d) {
    cmd->add_option("--day", d.from, "the first day, YYYY-MM-DD (UTC); `all`: every day /raw holds")->required();
    cmd->add_option("--to", d.to, "the last day (default: --day)");
    cmd->add_option("--hdfs", d.hdfs, "file://PATH or webhdfs://HOST:PORT (default: hdfs.url)");
  };
  auto* agg = app.add_subcommand("aggregate",
                                 "Write /cleaned/{yyyymmdd}/aggregated_{market,news,fear_greed}.json from a day's "
                                 "/raw records (duplicates dropped; each file replaced whole)");
  auto a = std::make_shared<days>();
  auto if_present = std::make_shared<bool>(false);
  day_options(agg, *a);
  agg->add_flag("--if-present", *if_present,
                "a day with nothing stored is skipped (exit 0) instead of an error (the scheduler's jobs)");
  agg->callback([&g, &rc, a, if_present] { rc = run_aggregate(g, a->from, a->to, a->hdfs, *if_present); });

  auto* mr = app.add_subcommand("mapreduce", "The aggregate as Hadoop Streaming steps (docs/hadoop.md)");
  mr->require_subcommand(1);
  mr->add_subcommand("map", "stdin: envelopes, one per line → stdout: KEY<TAB>VALUE")->callback([&g, &rc] {
    rc = run_map(g);
  });
  mr->add_subcommand("reduce", "stdin: map's pairs sorted by key → stdout: KIND<TAB>JSON, one line per aggregate")
      ->callback([&rc] { rc = run_reduce(); });

  auto* bf = app.add_subcommand("backfill",
                                "Load /raw records of the given days into PostgreSQL through db-sink's row mapping; "
                                "idempotent by record id; an interrupted run resumes where it stopped");
  auto b = std::make_shared<days>();
  auto o = std::make_shared<batch::backfill_options>();
  auto kinds = std::make_shared<std::vector<std::string>>();
  day_options(bf, *b);
  bf->add_option("--kinds", *kinds, "only these kinds (market, news, fear_greed)")
      ->delimiter(',')
      ->check(CLI::IsMember({"market", "news", "fear_greed"}));
  bf->add_flag("--restart", o->restart, "read every file from its start (the stored progress is ignored)");
  bf->callback([&g, &rc, b, o, kinds] {
    o->kinds = {kinds->begin(), kinds->end()};
    rc = run_backfill(g, *o, b->from, b->to, b->hdfs);
  });
}

}  // namespace ctk::cli
