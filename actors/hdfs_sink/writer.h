// hdfs-sink's writer thread: appends run there, so that the file I/O
// overlaps decoding the next records and fetching from Kafka.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/hdfs_sink/store.h"
#include "pipeline/job_thread.h"

namespace ctk::hdfs {

// Appends run on a writer thread (pipeline::job_thread), so that the file
// I/O overlaps decoding the next records and fetching from Kafka (the
// actor's thread only moves each file's buffer into a job). The store is used by one thread at a
// time: by the writer while jobs are queued, by the actor's thread only
// after barrier() (commits, recovery, revokes). A write that fails is
// retried here while the file is known to be unchanged; anything else
// (retries exhausted, a file that holds part of the bytes) stops the writer
// until the actor redoes from the last commit (reset()).
class writer_thread {
 public:
  struct counters {
    std::atomic<std::uint64_t>& bytes;
    std::atomic<std::uint64_t>& writes;
    std::atomic<std::uint64_t>& errors;
  };
  writer_thread(store& s, counters c, const std::atomic<bool>& stopping)
      : store_(s), c_(c), stopping_(stopping), jobs_(max_queued) {}

  // Queues `data` for the file at `path` (`written`: its length before);
  // takes the bytes and leaves `data` an empty buffer with capacity. Blocks
  // while more than max_queued bytes wait (back-pressure on the consumer).
  // sync_from >= 0: once written, start the write-back of the file from there on.
  void submit(const std::string& path, bool create, std::int64_t written, std::string& data, std::int64_t sync_from) {
    const std::size_t size = data.size();
    jobs_.submit(
        [this, j = job{path, create, written, std::move(data), sync_from}]() mutable {
          std::string why = run(j);
          j.data.clear();
          std::lock_guard lock(spare_mu_);
          if (spare_.size() < 64) spare_.push_back(std::move(j.data));
          return why;
        },
        size);
    std::lock_guard lock(spare_mu_);
    if (!spare_.empty()) {
      data = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  // Waits until every queued job is done; the first failure since reset(), or "".
  std::string barrier() { return jobs_.barrier(); }
  bool failed() const { return !jobs_.failure().empty(); }
  // The last store call failed, and no write has succeeded since (the
  // sink's health: read from the metrics thread).
  bool failing() const { return failing_.load(); }
  void reset() { jobs_.reset(); }

  static constexpr std::size_t max_queued = 64u << 20;

 private:
  struct job {
    std::string path;
    bool create;
    std::int64_t written;
    std::string data;
    std::int64_t sync_from;
  };

  // "" when the bytes are in the file.
  std::string run(job& j) {
    for (int attempt = 0;; ++attempt) {
      error e;
      bool ok = j.create
                    ? store_.mkdirs(j.path.substr(0, j.path.rfind('/')), e) && store_.create(j.path, j.data, true, e)
                    : store_.append(j.path, j.data, e);
      c_.writes.fetch_add(1);
      if (!ok) {
        c_.errors.fetch_add(1);
        failing_.store(true);
        // Did the bytes land anyway (a reply lost after the write)? The
        // file's length tells; anything in between cannot be repaired.
        error se;
        auto st = store_.status(j.path, se);
        const auto after = j.written + static_cast<std::int64_t>(j.data.size());
        if (st && st->length == after) {
          ok = true;
        } else if (st && st->length != j.written && !(j.create && st->length == 0)) {
          return j.path + " holds " + std::to_string(st->length) + " bytes, expected " + std::to_string(j.written) +
                 " or " + std::to_string(after) + " after: " + e.message;
        } else if (attempt >= 4 || stopping_.load()) {
          return e.message;
        } else {
          spdlog::warn("hdfs-sink: {} (attempt {}/5; retried)", e.message, attempt + 1);
          std::this_thread::sleep_for(std::chrono::milliseconds(100 << (2 * attempt)));
          continue;
        }
      }
      c_.bytes.fetch_add(j.data.size());
      failing_.store(false);
      // file://: start writing these pages back now (see sync_step).
      if (j.sync_from >= 0)
        store_.start_sync(j.path, j.sync_from, j.written + static_cast<std::int64_t>(j.data.size()) - j.sync_from);
      return {};
    }
  }

  store& store_;
  counters c_;
  const std::atomic<bool>& stopping_;
  std::mutex spare_mu_;
  std::vector<std::string> spare_;  // emptied buffers, capacity kept, handed back to files
  std::atomic<bool> failing_{false};
  pipeline::job_thread jobs_;  // last: stopped first
};

}  // namespace ctk::hdfs
