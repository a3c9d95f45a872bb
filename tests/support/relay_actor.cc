// A test actor in its own process, on the real runner: copies every message
// of --in to --out unchanged (same key), dead-letters values equal to
// "poison", and can be slowed down so that a SIGKILL lands mid-batch.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "pipeline/process.h"
#include "pipeline/runner.h"

namespace {
class relay final : public ctk::pipeline::actor {
 public:
  relay(std::string in, std::string out, int delay_us, long stop_after, std::atomic<bool>& stop)
      : in_(std::move(in)), out_(std::move(out)), delay_us_(delay_us), stop_after_(stop_after), stop_(stop) {}
  std::string name() const override { return "relay"; }
  std::vector<std::string> inputs() const override { return {in_}; }
  std::vector<std::string> outputs() const override { return {out_}; }
  ctk::pipeline::outcome handle(const ctk::pipeline::input& in, ctk::pipeline::emitter& out) override {
    if (delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    if (in.value == "poison") return ctk::pipeline::outcome::dead_letter("poison", "the value is 'poison'");
    out.emit(out_, in.key, in.value);
    if (stop_after_ > 0 && ++handled_ >= stop_after_) stop_.store(true);  // the runner drains and exits
    return ctk::pipeline::outcome::ok();
  }

 private:
  std::string in_, out_;
  int delay_us_;
  long stop_after_, handled_ = 0;
  std::atomic<bool>& stop_;
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relay test actor"};
  std::string bootstrap, in, out, prefix = "test.", identity = "test/relay/0";
  int delay_us = 0, batch = 500, batch_ms = 50;
  long stop_after = 0;
  int depth = 4;
  std::vector<std::string> producer_props, consumer_props;
  app.add_option("--bootstrap", bootstrap)->required();
  app.add_option("--in", in)->required();
  app.add_option("--out", out)->required();
  app.add_option("--prefix", prefix);
  app.add_option("--delay-us", delay_us);
  app.add_option("--batch", batch);
  app.add_option("--batch-ms", batch_ms);
  app.add_option("--identity", identity);
  app.add_option("--depth", depth, "runtime.max_inflight_batches");
  app.add_option("--stop-after", stop_after, "drain and exit after handling N messages (benchmarks)");
  app.add_option("--producer-prop", producer_props, "librdkafka producer property k=v (repeatable)");
  app.add_option("--consumer-prop", consumer_props, "librdkafka consumer property k=v (repeatable)");
  CLI11_PARSE(app, argc, argv);
  ctk::pipeline::init_logging(identity, "info");
  auto& stop = ctk::pipeline::install_stop_signals();
  ctk::pipeline::runner_config rc;
  rc.identity = identity;
  rc.names.prefix = prefix;
  rc.client = {{"bootstrap.servers", bootstrap}, {"client.id", identity}};
  for (auto [props, into] : {std::pair{&producer_props, &rc.producer}, std::pair{&consumer_props, &rc.consumer}})
    for (const auto& kv : *props) {
      auto eq = kv.find('=');
      if (eq != std::string::npos) (*into)[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  rc.runtime.batch_max_messages = batch;
  rc.runtime.batch_max_wait = ctk::cfg::duration((std::to_string(batch_ms) + "ms").c_str());
  rc.runtime.max_inflight_batches = depth;
  relay a(in, out, delay_us, stop_after, stop);
  ctk::pipeline::metrics_registry metrics(ctk::pipeline::actor_labels(a.name(), identity));
  ctk::pipeline::runner r(a, rc, metrics);
  return r.run(stop);
}
