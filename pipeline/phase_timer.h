// Adds the time from construction to destruction to a microsecond counter
// (the runner's time per phase), and to a histogram when given one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "pipeline/metrics.h"

namespace ctk::pipeline {

class phase_timer {
 public:
  using clock = std::chrono::steady_clock;
  explicit phase_timer(std::atomic<std::uint64_t>& c, histogram* h = nullptr) : c_(c), h_(h), t0_(clock::now()) {}
  ~phase_timer() {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0_).count();
    c_.fetch_add(static_cast<std::uint64_t>(us));
    if (h_) h_->observe(static_cast<double>(us) / 1e6);
  }
  phase_timer(const phase_timer&) = delete;
  phase_timer& operator=(const phase_timer&) = delete;

 private:
  std::atomic<std::uint64_t>& c_;
  histogram* h_;
  clock::time_point t0_;
};

}  // namespace ctk::pipeline
