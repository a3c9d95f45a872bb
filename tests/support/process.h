// Real child processes for integration and fault tests: spawn, signal,
// wait. Every wait is for a condition with a deadline, never a fixed sleep.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ctk::test {

class child {
 public:
  // Starts argv[0] with stdout and stderr to files (paths kept for reading).
  // `cwd`: the child's working directory (default: the test's).
  child(std::vector<std::string> argv, std::string out_file, std::string err_file,
        std::map<std::string, std::string> env = {}, std::string cwd = {});
  ~child();  // SIGKILLs and reaps the process if it still runs
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit code, 128+signal if killed, -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string out_file_, err_file_;
};

// The tree was built with AddressSanitizer (tests/support/sanitize.sh):
// memory figures (RSS) mean nothing there, everything else holds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool built_with_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool built_with_asan = true;
#else
inline constexpr bool built_with_asan = false;
#endif
#else
inline constexpr bool built_with_asan = false;
#endif

// Polls `cond` every 20 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// Runs a command to completion; returns exit code, stdout in *out (if given).
int run(const std::string& shell_command, std::string* out = nullptr);

std::string read_file(const std::string& path);
std::string temp_dir();    // a fresh folder under $TMPDIR, removed by the OS later
std::string binary_dir();  // where cointicker and the test binaries are
// The built cointicker as a shell command: in the arm64 tree (tests/support/arm64.sh)
// prefixed with qemu-aarch64, since a process under qemu cannot exec another arm64 binary.
std::string cointicker_command();

// An embedded broker in its own process (cointicker broker, random port).
class broker {
 public:
  explicit broker(std::vector<std::string> extra_topics = {});
  const std::string& bootstrap() const { return bootstrap_; }
  child& process() { return *proc_; }

 private:
  std::string dir_, bootstrap_;
  std::unique_ptr<child> proc_;
};

}  // namespace ctk::test
