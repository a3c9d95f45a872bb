// hdfs-sink's writer thread: appends run there, so that the file I/O
// overlaps decoding the next records and fetching from Kafka.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/hdfs_sink/store.h"

namespace ctk::hdfs {

// Appends run on a writer thread, so that the file I/O overlaps decoding
// the next records and fetching from Kafka (the actor's thread only moves
// each file's buffer into a job). The store is used by one thread at a
// time: by the writer while jobs are queued, by the actor's thread only
// after barrier() (commits, recovery, revokes). A write that fails is
// retried here while the file is known to be unchanged; anything else
// (retries exhausted, a file that holds part of the bytes) stops the writer
// until the actor redoes from the last commit (reset()).
class writer_thread {
 public:
  struct counters {
    std::atomic<std::uint64_t>*& bytes;
    std::atomic<std::uint64_t>*& writes;
    std::atomic<std::uint64_t>*& errors;
  };
  writer_thread(store& s, counters c, const std::atomic<bool>& stopping)
      : store_(s), c_(c), stopping_(stopping), thread_([this] { loop(); }) {}
  ~writer_thread() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  // Queues `data` for the file at `path` (`written`: its length before);
  // takes the bytes and leaves `data` an empty buffer with capacity. Blocks
  // while more than max_queued bytes wait (back-pressure on the consumer).
  // sync_from >= 0: once written, start the write-back of the file from there on.
  void submit(const std::string& path, bool create, std::int64_t written, std::string& data, std::int64_t sync_from) {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return queued_bytes_ < max_queued || quit_; });
    queued_bytes_ += data.size();
    jobs_.push_back({path, create, written, std::move(data), sync_from});
    if (!spare_.empty()) {
      data = std::move(spare_.back());
      spare_.pop_back();
    }
    lock.unlock();
    wake_.notify_one();
  }
  // Waits until every queued job is done; the first failure since reset(), or "".
  std::string barrier() {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return (jobs_.empty() && !busy_) || quit_; });
    return failure_;
  }
  bool failed() {
    std::lock_guard lock(mu_);
    return !failure_.empty();
  }
  void reset() {
    std::lock_guard lock(mu_);
    failure_.clear();
  }

  static constexpr std::size_t max_queued = 64u << 20;

 private:
  struct job {
    std::string path;
    bool create;
    std::int64_t written;
    std::string data;
    std::int64_t sync_from;
  };

  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return !jobs_.empty() || quit_; });
      if (quit_) return;
      job j = std::move(jobs_.front());
      jobs_.pop_front();
      const bool skip = !failure_.empty();  // after a failure the files are redone anyway
      busy_ = true;
      lock.unlock();
      std::string why = skip ? std::string() : run(j);
      lock.lock();
      busy_ = false;
      if (!why.empty() && failure_.empty()) failure_ = std::move(why);
      queued_bytes_ -= j.data.size();
      j.data.clear();
      if (spare_.size() < 64) spare_.push_back(std::move(j.data));
      done_.notify_all();
    }
  }

  // "" when the bytes are in the file.
  std::string run(job& j) {
    for (int attempt = 0;; ++attempt) {
      error e;
      bool ok = j.create
                    ? store_.mkdirs(j.path.substr(0, j.path.rfind('/')), e) && store_.create(j.path, j.data, true, e)
                    : store_.append(j.path, j.data, e);
      c_.writes->fetch_add(1);
      if (!ok) {
        c_.errors->fetch_add(1);
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
      c_.bytes->fetch_add(j.data.size());
      // file://: start writing these pages back now (see sync_step).
      if (j.sync_from >= 0)
        store_.start_sync(j.path, j.sync_from, j.written + static_cast<std::int64_t>(j.data.size()) - j.sync_from);
      return {};
    }
  }

  store& store_;
  counters c_;
  const std::atomic<bool>& stopping_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::deque<job> jobs_;
  std::vector<std::string> spare_;  // emptied buffers, capacity kept, handed back to files
  std::size_t queued_bytes_ = 0;
  bool busy_ = false, quit_ = false;
  std::string failure_;
  std::thread thread_;
};

}  // namespace ctk::hdfs
