// The batch jobs the scheduler runs (cluster.yaml `jobs:`): `cointicker
// aggregate --day TODAY` every 5 minutes and `--day YESTERDAY` once after
// midnight, each a child process of the scheduler on its node, with the
// guarantees of scheduled crawls:
// - no overlap: a job still running is not started again; the slot is
//   given up, not queued;
// - the topics are the state: a start and an end record per run go to
//   <prefix>reports (crawl reports with source "job:NAME", status
//   "running", then "ok" or "failed"). A restarted scheduler reads them:
//   it neither runs again what ran nor forgets a daily run, and a run
//   whose end is missing died with the previous scheduler (children get
//   SIGTERM when it dies), which is recorded as failed;
// - a missed slot is caught up once.
// Threading: everything on the actor's thread except status(), which the
// control server's thread calls; a mutex guards the table.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "actors/scheduler/schedule.h"
#include "brokers/control.h"
#include "config/loader.h"
#include "messages/envelope.h"

namespace ctk::scheduler {

class job_book {
 public:
  // emit(key, json): a record for <prefix>reports.
  using emit_fn = std::function<void(const std::string& key, const std::string& json)>;

  explicit job_book(const cfg::loaded_config& c);
  ~job_book();  // a running job gets SIGTERM and is waited for
  job_book(const job_book&) = delete;
  job_book& operator=(const job_book&) = delete;

  // While rebuilding: every report read from <prefix>reports.
  void restore(const msg::crawl_report& rep);
  // After rebuilding: the next runs from the last ones. A run without its
  // end record is recorded as failed at the first tick.
  void restored(std::int64_t now_ms);
  // Reaps finished runs and starts due ones.
  void tick(std::int64_t now_ms, const emit_fn& emit);
  std::vector<control::job_status> status() const;

 private:
  struct job {
    std::string name;
    schedule when;
    std::vector<std::string> argv_tail;  // after `--config DIR`; the day is added per run
    bool yesterday = false;
    std::int64_t last = -1, due = 0;  // last start, next start (ms)
    std::string run_id;               // of the last start
    bool ended = true;                // the last start has its end record
    pid_t pid = -1;
    std::string last_status, last_error;
    std::int64_t last_duration_ms = 0;
    std::int64_t skipped_slot = -1;
  };
  void finish(job& j, int wait_status, std::int64_t now_ms, const emit_fn& emit);
  void end_record(job& j, std::int64_t now_ms, const emit_fn& emit);
  void start(job& j, std::int64_t now_ms, const emit_fn& emit);

  std::string exe_, config_dir_, actor_;
  mutable std::mutex mu_;
  std::map<std::string, job> jobs_;
};

}  // namespace ctk::scheduler
