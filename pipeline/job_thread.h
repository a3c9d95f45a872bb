// One thread that runs a sink's store writes in order while the runner goes
// on polling and decoding: hdfs-sink's appends and db-sink's transactions.
// A job returns "" or what failed. After a failure the jobs still queued
// are dropped (the sink redoes or resubmits that work) and the failure is
// kept until reset(). submit() blocks while more than `max_weight` (bytes,
// rows: the sink's unit) is queued: back-pressure on the consumer.
// Threading: submit/barrier/busy/failure/reset from the actor's thread;
// jobs run on the job thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace ctk::pipeline {

class job_thread {
 public:
  using job = std::function<std::string()>;

  explicit job_thread(std::size_t max_weight);
  // Stops after the running job; queued jobs are dropped.
  ~job_thread();
  job_thread(const job_thread&) = delete;
  job_thread& operator=(const job_thread&) = delete;

  void submit(job j, std::size_t weight);
  // Waits until nothing is queued or running; the first failure since
  // reset(), or "".
  std::string barrier();
  // true while a job is queued or running.
  bool busy() const;
  // The first failure since reset(), or "" (does not wait).
  std::string failure() const;
  void reset();

 private:
  void loop();

  const std::size_t max_weight_;
  mutable std::mutex mu_;
  std::condition_variable wake_, done_;
  std::deque<std::pair<job, std::size_t>> jobs_;
  std::size_t queued_weight_ = 0;
  bool running_ = false, quit_ = false;
  std::string failure_;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace ctk::pipeline
