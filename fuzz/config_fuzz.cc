// libFuzzer target: what an operator (or a bad copy-paste) writes: the
// first byte picks cluster.yaml, sources.yaml, the replay server's
// routes.yaml, or a source's schedule (cron, daily or every); the rest is
// the text. Properties beyond "no crash, no sanitizer report": no exception
// escapes the loaders; every error names its file; a schedule that parses
// fires strictly later than any moment it is asked about.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "actors/crawler/replay_server.h"
#include "actors/scheduler/schedule.h"
#include "config/loader.h"

namespace {

const std::string& work_dir() {
  static const std::string dir = [] {
    std::string t = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/ctk-config-fuzz-XXXXXX");
    if (!mkdtemp(t.data())) std::abort();
    return t;
  }();
  return dir;
}

void write(const std::string& name, std::string_view text) {
  std::ofstream(work_dir() + "/" + name, std::ios::binary | std::ios::trunc) << text;
}

void config_file(bool cluster, std::string_view text) {
  write("cluster.yaml", cluster ? text : "");
  write("sources.yaml", cluster ? "" : text);
  ctk::cfg::loaded_config out;
  char* no_env[] = {nullptr};
  for (const auto& e : ctk::cfg::load_config(work_dir(), out, no_env))
    if (e.file.empty() || e.message.empty()) std::abort();  // an error always says where and what
}

void routes_file(std::string_view text) {
  write("routes.yaml", text);
  std::string err;
  if (!ctk::crawler::replay_server::load(work_dir(), err) && err.find("routes.yaml") == std::string::npos &&
      err.find(work_dir()) == std::string::npos)
    std::abort();  // a refusal names the file it comes from
}

void schedule(std::uint8_t how, std::string_view text) {
  ctk::cfg::schedule_settings s;
  s.timezone = (how & 4) ? "Asia/Seoul" : (how & 8) ? "America/New_York" : "UTC";
  switch (how % 3) {
    case 0:
      s.cron = text;
      break;
    case 1:
      s.daily = text;
      break;
    default:
      if (auto ms = ctk::cfg::parse_duration_ms(text)) {
        s.every.text = text;
        s.every.ms = *ms;
      }
      break;
  }
  std::string why;
  const auto sch = ctk::scheduler::schedule::parse(s, why);
  if (!sch) return;
  // Around the spring-forward and fall-back days of both zones, and a leap day.
  for (std::int64_t t : {1710054000000LL, 1730613600000LL, 1709164800000LL}) {
    const std::int64_t next = sch->next_after(t);
    if (next <= t) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      config_file(true, text);
      break;
    case 1:
      config_file(false, text);
      break;
    case 2:
      routes_file(text);
      break;
    default:
      schedule(static_cast<std::uint8_t>(data[0] >> 2), text);
      break;
  }
  return 0;
}
