// Adds the time from construction to destruction to a microsecond counter
// (the runner's time per phase).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ctk::pipeline {

class phase_timer {
 public:
  using clock = std::chrono::steady_clock;
  explicit phase_timer(std::atomic<std::uint64_t>& c) : c_(c), t0_(clock::now()) {}
  ~phase_timer() {
    c_.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0_).count()));
  }
  phase_timer(const phase_timer&) = delete;
  phase_timer& operator=(const phase_timer&) = delete;

 private:
  std::atomic<std::uint64_t>& c_;
  clock::time_point t0_;
};

}  // namespace ctk::pipeline
