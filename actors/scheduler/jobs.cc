#include "actors/scheduler/jobs.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "actors/validator/normalize.h"
#include "messages/json.h"
#include "pipeline/process.h"

namespace ctk::scheduler {

namespace {

constexpr std::string_view prefix = "job:";

std::string self_exe() {
  char b[4096];
  const ssize_t n = ::readlink("/proc/self/exe", b, sizeof b - 1);
  return n > 0 ? std::string(b, static_cast<std::size_t>(n)) : std::string("cointicker");
}

}  // namespace

job_book::job_book(const cfg::loaded_config& c) : exe_(self_exe()), config_dir_(c.dir), actor_("scheduler") {
  const auto& s = c.cluster.jobs;
  if (!s.enabled) return;
  for (const auto& [name, settings, yesterday] : {std::tuple{"aggregate_today", &s.aggregate_today, false},
                                                  std::tuple{"aggregate_yesterday", &s.aggregate_yesterday, true}}) {
    std::string why;
    auto when = schedule::parse(*settings, why);
    if (!when) {
      spdlog::warn("scheduler: job {} has no schedule ({}); it does not run", name, why);
      continue;
    }
    job j{name, *when, {"aggregate", "--if-present", "--day"}, yesterday};
    jobs_.emplace(name, std::move(j));
  }
}

job_book::~job_book() {
  for (auto& [name, j] : jobs_)
    if (j.pid > 0) {
      ::kill(j.pid, SIGTERM);
      ::waitpid(j.pid, nullptr, 0);
    }
}

void job_book::restore(const msg::crawl_report& rep) {
  if (rep.source.rfind(prefix, 0) != 0) return;
  std::lock_guard lock(mu_);
  auto it = jobs_.find(rep.source.substr(prefix.size()));
  if (it == jobs_.end()) return;
  job& j = it->second;
  std::string why;
  if (rep.status == "running") {
    const auto at = validator::parse_time_ms(rep.started_at, "UTC", why);
    if (!at || *at < j.last) return;
    j.last = *at;
    j.run_id = rep.id;
    j.ended = false;
  } else if (rep.id == j.run_id) {
    j.ended = true;
    j.last_status = rep.status;
    j.last_error = rep.error;
    j.last_duration_ms = rep.duration_ms;
  }
}

void job_book::restored(std::int64_t now) {
  std::lock_guard lock(mu_);
  for (auto& [name, j] : jobs_) {
    if (j.last < 0) {
      j.due = j.when.type() == schedule::kind::every ? now : j.when.next_after(now);
    } else {
      j.due = j.when.next_after(j.last);  // in the past: caught up once, at the first tick
    }
    spdlog::info("scheduler: job {} {}; last ran {}{}; next {}", name, j.when.describe(),
                 j.last < 0 ? "never" : validator::format_utc_ms(j.last),
                 j.ended ? "" : " (its end is missing: it died with the previous scheduler)",
                 validator::format_utc_ms(j.due));
  }
}

void job_book::end_record(job& j, std::int64_t now, const emit_fn& emit) {
  j.ended = true;
  msg::crawl_report rep;
  rep.id = j.run_id;
  rep.source = std::string(prefix) + j.name;
  rep.status = j.last_status;
  rep.actor = actor_;
  rep.duration_ms = j.last_duration_ms;
  rep.started_at = validator::format_utc_ms(j.last);
  rep.finished_at = validator::format_utc_ms(now);
  rep.error = j.last_error;
  std::string json;
  msg::encode(rep, json);
  emit(rep.source, json);
}

void job_book::finish(job& j, int st, std::int64_t now, const emit_fn& emit) {
  const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  j.pid = -1;
  j.last_status = ok ? "ok" : "failed";
  j.last_error = ok              ? ""
                 : WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st)) + " (its lines are in this log)"
                                 : std::string("killed by signal ") + ::strsignal(WTERMSIG(st));
  j.last_duration_ms = now - j.last;
  end_record(j, now, emit);
  if (ok)
    spdlog::info("scheduler: job {} done in {} ms", j.name, j.last_duration_ms);
  else
    spdlog::warn("scheduler: job {} failed after {} ms: {}", j.name, j.last_duration_ms, j.last_error);
}

void job_book::start(job& j, std::int64_t now, const emit_fn& emit) {
  std::vector<std::string> argv{exe_, "--config", config_dir_};
  argv.insert(argv.end(), j.argv_tail.begin(), j.argv_tail.end());
  argv.push_back(validator::format_utc_ms(j.yesterday ? now - 86'400'000 : now).substr(0, 10));  // YYYY-MM-DD
  j.run_id = "job-" + j.name + "-" + std::to_string(now);
  j.last = now;
  j.ended = false;
  msg::crawl_report rep;
  rep.id = j.run_id;
  rep.source = std::string(prefix) + j.name;
  rep.status = "running";
  rep.actor = actor_;
  rep.started_at = validator::format_utc_ms(now);
  std::string json;
  msg::encode(rep, json);
  emit(rep.source, json);  // before the process: a restart then knows it ran
  j.pid = pipeline::spawn_tied(argv);
  if (j.pid < 0) {
    spdlog::error("scheduler: job {}: fork failed: {}", j.name, std::strerror(errno));
    finish(j, 1 << 8, now, emit);
    return;
  }
  spdlog::info("scheduler: job {} started (pid {}): aggregate --day {}", j.name, j.pid, argv.back());
}

void job_book::tick(std::int64_t now, const emit_fn& emit) {
  std::lock_guard lock(mu_);
  for (auto& [name, j] : jobs_) {
    int st = 0;
    if (j.pid > 0 && ::waitpid(j.pid, &st, WNOHANG) == j.pid) finish(j, st, now, emit);
    if (j.pid < 0 && !j.ended) {
      // A run restored without its end: its process got SIGTERM when the previous scheduler died.
      j.last_status = "failed";
      j.last_error = "interrupted: the scheduler stopped while it ran";
      end_record(j, now, emit);
    }
    if (now < j.due) continue;
    if (j.pid > 0) {
      if (j.skipped_slot != j.due)
        spdlog::info("scheduler: job {} not started: its last run goes on (no overlap)", name);
      j.skipped_slot = j.due;
      j.due = j.when.next_after(now);  // given up, not queued
      continue;
    }
    start(j, now, emit);
    j.due = j.when.next_after(now);
  }
}

std::vector<control::job_status> job_book::status() const {
  std::lock_guard lock(mu_);
  std::vector<control::job_status> out;
  for (const auto& [name, j] : jobs_) {
    control::job_status s;
    s.job = name;
    s.schedule = j.when.describe();
    s.state = j.pid > 0 ? "running" : "idle";
    s.last_status = j.last_status;
    s.last_run_at = j.last < 0 ? "" : validator::format_utc_ms(j.last);
    s.next_at = validator::format_utc_ms(j.due);
    s.last_duration_s = static_cast<double>(j.last_duration_ms) / 1000.0;
    s.last_error = j.last_error;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ctk::scheduler
