#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ctk::test {

child::child(std::vector<std::string> argv, std::string out_file, std::string err_file,
             std::map<std::string, std::string> env, std::string cwd)
    : out_file_(std::move(out_file)), err_file_(std::move(err_file)) {
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int o = ::open(out_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int e = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::perror("execv");
    ::_exit(127);
  }
}

child::~child() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

void child::signal(int sig) { ::kill(pid_, sig); }

bool child::running() {
  if (status_ != -1) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return r == 0;
}

int child::wait(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout);
  return status_;
}

std::string child::out() const { return read_file(out_file_); }
std::string child::err() const { return read_file(err_file_); }

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int run(const std::string& shell_command, std::string* out) {
  FILE* p = ::popen(shell_command.c_str(), "r");
  if (!p) return -1;
  std::string s;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) s.append(buf, n);
  int st = ::pclose(p);
  if (out) *out = std::move(s);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ctk-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string binary_dir() { return CTK_BINARY_DIR; }

#ifndef CTK_EMULATOR
#define CTK_EMULATOR ""
#endif
std::string cointicker_command() { return std::string(CTK_EMULATOR) + binary_dir() + "/cointicker"; }

broker::broker(std::vector<std::string> extra_topics) : dir_(temp_dir()) {
  std::vector<std::string> argv{binary_dir() + "/cointicker",
                                "--config",
                                std::string(CTK_SOURCE_DIR) + "/config",
                                "broker",
                                "--listen",
                                "127.0.0.1:0",
                                "--address-file",
                                dir_ + "/address"};
  for (const auto& t : extra_topics) {
    argv.push_back("--topic");
    argv.push_back(t);
  }
  proc_ = std::make_unique<child>(argv, dir_ + "/broker.out", dir_ + "/broker.err");
  if (!wait_until([&] { return std::filesystem::exists(dir_ + "/address") || !proc_->running(); },
                  std::chrono::seconds(20)) ||
      !proc_->running())
    throw std::runtime_error("embedded broker did not start: " + proc_->err());
  bootstrap_ = read_file(dir_ + "/address");
  while (!bootstrap_.empty() && (bootstrap_.back() == '\n' || bootstrap_.back() == '\r')) bootstrap_.pop_back();
}

}  // namespace ctk::test
