#include "pipeline/job_thread.h"

namespace ctk::pipeline {

job_thread::job_thread(std::size_t max_weight) : max_weight_(max_weight), thread_([this] { loop(); }) {}

job_thread::~job_thread() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  wake_.notify_all();
  done_.notify_all();
  thread_.join();
}

void job_thread::submit(job j, std::size_t weight) {
  std::unique_lock lock(mu_);
  // One job is always let in, however heavy, or it would wait for ever.
  done_.wait(lock, [&] { return queued_weight_ == 0 || queued_weight_ + weight <= max_weight_ || quit_; });
  queued_weight_ += weight;
  jobs_.emplace_back(std::move(j), weight);
  lock.unlock();
  wake_.notify_one();
}

std::string job_thread::barrier() {
  std::unique_lock lock(mu_);
  done_.wait(lock, [&] { return (jobs_.empty() && !running_) || quit_; });
  return failure_;
}

bool job_thread::busy() const {
  std::lock_guard lock(mu_);
  return running_ || !jobs_.empty();
}

std::string job_thread::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void job_thread::reset() {
  std::lock_guard lock(mu_);
  failure_.clear();
}

void job_thread::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return !jobs_.empty() || quit_; });
    if (quit_) return;
    auto [j, weight] = std::move(jobs_.front());
    jobs_.pop_front();
    const bool skip = !failure_.empty();  // dropped: the sink redoes this work
    running_ = true;
    lock.unlock();
    std::string why = skip ? std::string() : j();
    j = nullptr;  // what the job holds is released outside the lock
    lock.lock();
    running_ = false;
    if (!why.empty() && failure_.empty()) failure_ = std::move(why);
    queued_weight_ -= weight;
    done_.notify_all();
  }
}

}  // namespace ctk::pipeline
