// The actor loop (pipeline/runner) over the in-memory transport: the real
// loop and a small relay actor, with the broker's side scripted through
// memory_transport's hooks, which run inside the loop's polls. Each test
// stops the loop from a hook once the state it checks is reached; a
// 20-second guard fails a test whose loop never gets there.
#include "pipeline/runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "brokers/memory_transport.h"
#include "messages/envelope.h"
#include "messages/json.h"

namespace ctk::kafka {
void PrintTo(const topic_partition& p, std::ostream* os) { *os << p.topic << "/" << p.partition << "@" << p.offset; }
}  // namespace ctk::kafka

namespace {

using ctk::kafka::memory_transport;
using ctk::kafka::offset_invalid;
using ctk::kafka::topic_partition;
using ctk::pipeline::emitter;
using ctk::pipeline::input;
using ctk::pipeline::outcome;

// Emits each input to `out`, same key, value and partition number. Values
// starting with "bad" are dead-lettered; "too-far" is emitted to a
// partition that does not exist; `retries_left` makes a value flaky.
class relay final : public ctk::pipeline::actor {
 public:
  std::string name() const override { return "relay"; }
  std::vector<std::string> inputs() const override { return {"in"}; }
  std::vector<std::string> outputs() const override { return {"out"}; }
  outcome handle(const input& in, emitter& out) override {
    const std::string v(in.value);
    if (v.starts_with("bad")) return outcome::dead_letter("bad_value", "the value starts with bad");
    if (auto it = retries_left.find(v); it != retries_left.end() && it->second > 0) {
      --it->second;
      return outcome::retry("flaky: " + v);
    }
    handled.emplace_back(in.partition, in.offset);
    out.emit("out", in.key, in.value, v == "too-far" ? 99 : in.partition);
    return outcome::ok();
  }
  outcome flush(emitter&) override {
    return ++flushes == redo_at_flush ? outcome::redo("a file was half written") : outcome::ok();
  }
  std::int64_t durable(std::string_view, std::int32_t partition, std::int64_t next) override {
    auto it = durable_upto.find(partition);
    return it == durable_upto.end() ? next : std::min(next, it->second);
  }
  void on_assign(std::vector<topic_partition>& parts) override {
    assigns.push_back(parts);
    for (auto& p : parts)
      if (auto it = start_at.find(p.partition); it != start_at.end()) p.offset = it->second;
  }
  void on_revoke(const std::vector<topic_partition>& parts) override { revokes.push_back(parts); }
  void on_acknowledged(const std::vector<topic_partition>& through, emitter& out) override {
    for (const auto& t : through) {
      acknowledged.push_back(t);
      if (checkpoint) out.emit("out", "ck", "ck" + std::to_string(t.offset), t.partition);
    }
  }

  std::vector<std::pair<std::int32_t, std::int64_t>> handled;  // partition, offset
  std::map<std::string, int> retries_left;
  int flushes = 0, redo_at_flush = -1;
  std::map<std::int32_t, std::int64_t> durable_upto;
  std::vector<std::vector<topic_partition>> assigns, revokes;
  std::vector<topic_partition> acknowledged;
  std::map<std::int32_t, std::int64_t> start_at;  // on_assign moves these starts (a sink's own store)
  bool checkpoint = false;                        // on_acknowledged emits "ck<next offset>"
};

// The loop under test: a runner over a memory_transport with topics t.in,
// t.out and t.deadletter, batches of 4, up to 4 batches in flight.
struct loop {
  explicit loop(int in_partitions, int out_partitions = 0) {
    auto owned = std::make_unique<memory_transport>();
    t = owned.get();
    t->create_topic("t.in", in_partitions);
    t->create_topic("t.out", out_partitions > 0 ? out_partitions : in_partitions);
    t->create_topic("t.deadletter", 1);
    ctk::pipeline::runner_config rc;
    rc.identity = "test/relay/0";
    rc.names.prefix = "t.";
    rc.runtime.batch_max_messages = 4;
    rc.runtime.batch_max_wait = "2ms";
    rc.runtime.retry_initial = "1ms";
    rc.runtime.retry_max = "2ms";
    rc.runtime.max_inflight_batches = 4;
    rc.metrics_port = 0;
    r = std::make_unique<ctk::pipeline::runner>(a, rc, metrics, std::move(owned));
    t->after_poll = [this](const std::vector<ctk::kafka::polled>&) {
      if (std::chrono::steady_clock::now() - started > std::chrono::seconds(20)) {
        ADD_FAILURE() << "the loop never reached the state the test waits for";
        stop = true;
      }
      if (script) script();
    };
  }
  void fill(std::int32_t partition, const std::vector<std::string>& values) {
    for (const auto& v : values) t->append("t.in", partition, "k-" + v, v);
  }
  int run() {
    started = std::chrono::steady_clock::now();
    return r->run(stop);
  }
  std::uint64_t counter(const std::string& name) { return r->metrics().counter(name, "").load(); }
  std::int64_t committed(std::int32_t p) const { return t->committed("t.in", p); }
  std::vector<std::string> out_values(std::int32_t p) const {
    std::vector<std::string> v;
    for (const auto& rec : t->read("t.out", p)) v.push_back(rec.value);
    return v;
  }
  std::vector<ctk::msg::dead_letter> dead_letters() const {
    std::vector<ctk::msg::dead_letter> v;
    ctk::msg::json_decoder d;
    for (const auto& rec : t->read("t.deadletter", 0)) {
      ctk::msg::dead_letter dl;
      ctk::msg::decode_error err;
      EXPECT_TRUE(d.decode(rec.value, dl, err)) << err.to_string();
      v.push_back(dl);
    }
    return v;
  }

  relay a;
  ctk::pipeline::metrics_registry metrics{ctk::pipeline::actor_labels("relay", "test/relay/0")};
  memory_transport* t;  // owned by the runner
  std::unique_ptr<ctk::pipeline::runner> r;
  std::atomic<bool> stop{false};
  std::function<void()> script;  // run after every poll
  std::chrono::steady_clock::time_point started;
};

std::vector<std::string> names(const char* prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

std::vector<std::pair<std::int32_t, std::int64_t>> offsets(std::int32_t p, std::int64_t from, std::int64_t to) {
  std::vector<std::pair<std::int32_t, std::int64_t>> v;
  for (auto o = from; o < to; ++o) v.emplace_back(p, o);
  return v;
}

}  // namespace

// Batches: [a0..a3] [a4..a7] (in/0) [b0..b3] (in/1). The second batch's
// output waits for the broker while the third's is acknowledged: in/1 must
// not be committed, although its own output is in, because an earlier
// batch is not; committing per partition would lose a4..a7 in a crash.
TEST(runner_commits, only_the_prefix_of_batches_whose_output_is_acknowledged) {
  loop l(2);
  l.fill(0, names("a", 8));
  l.fill(1, names("b", 4));
  bool released = false;
  std::vector<std::string> early;  // commits past the prefix before the release
  l.t->hold_delivery = [&](const memory_transport::outgoing& o) { return !released && o.value == "a5"; };
  l.t->refuse_commit = [&](const std::vector<topic_partition>& offs) {
    for (const auto& o : offs)
      if (!released && (o.partition == 1 || o.offset > 4)) early.push_back(o.topic + "/" + std::to_string(o.partition));
    return std::string();
  };
  l.script = [&] {
    if (!released && l.a.handled.size() == 12 && l.t->high("t.out", 1) == 4) {
      EXPECT_EQ(l.t->in_flight(), 3u) << "a5 and what follows it in out/0 wait";
      EXPECT_EQ(l.committed(0), 4);
      EXPECT_EQ(l.committed(1), offset_invalid) << "in/1 committed while an earlier batch awaits the broker";
      released = true;
    }
    if (released && l.committed(0) == 8 && l.committed(1) == 4) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_TRUE(released);
  EXPECT_TRUE(early.empty()) << early.front();
  EXPECT_EQ(l.out_values(0), names("a", 8));
  EXPECT_EQ(l.out_values(1), names("b", 4));
}

// on_acknowledged: called once a batch's output is stored, never before,
// with its next offsets; what it emits follows that output and is itself
// produced and acknowledged.
TEST(runner_commits, the_actor_hears_of_a_batch_only_once_its_output_is_stored) {
  loop l(1);
  l.a.checkpoint = true;
  l.fill(0, names("a", 8));
  bool released = false;
  l.t->hold_delivery = [&](const memory_transport::outgoing& o) { return !released && o.value == "a5"; };
  l.script = [&] {
    if (!released && l.a.handled.size() == 8) {
      EXPECT_EQ(l.a.acknowledged, (std::vector<topic_partition>{{"t.in", 0, 4}})) << "a5's batch is not stored";
      released = true;
    }
    if (released && l.committed(0) == 8 && l.t->high("t.out", 0) == 10 && l.t->in_flight() == 0) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_EQ(l.a.acknowledged, (std::vector<topic_partition>{{"t.in", 0, 4}, {"t.in", 0, 8}}));
  auto out = names("a", 4);
  out.push_back("ck4");
  for (auto& v : std::vector<std::string>{"a4", "a5", "a6", "a7", "ck8"}) out.push_back(v);
  EXPECT_EQ(l.out_values(0), out);
}

// A sink that finds more in its own store than Kafka's commit says moves
// the start; the runner commits it though no input follows, or the group
// would look behind forever (and a lossless stop would wait for it).
TEST(runner_commits, a_start_the_actor_moves_forward_is_committed_without_new_input) {
  loop l(2);
  l.fill(0, names("a", 4));
  l.fill(1, names("b", 4));
  l.a.start_at[0] = 4;
  l.script = [&] {
    if (l.committed(0) == 4 && l.committed(1) == 4) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_EQ(l.a.handled, offsets(1, 0, 4)) << "only in/1 was handled";
}

// A sink whose store is durable only up to offset 3 holds the commit there,
// and the runner commits the rest as soon as the store catches up, with no
// new input.
TEST(runner_commits, no_further_than_the_actor_says_its_store_is_durable) {
  loop l(1);
  l.fill(0, names("a", 10));
  l.a.durable_upto[0] = 3;
  bool caught_up = false;
  l.script = [&] {
    if (!caught_up && l.a.handled.size() == 10 && l.t->in_flight() == 0 && l.t->high("t.out", 0) == 10) {
      EXPECT_EQ(l.committed(0), 3);
      l.a.durable_upto[0] = 10;
      caught_up = true;
    }
    if (caught_up && l.committed(0) == 10) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  ASSERT_TRUE(caught_up);
  for (const auto& c : l.t->commit_log())
    for (const auto& o : c) EXPECT_TRUE(o.offset == 3 || o.offset == 10) << o.offset;
  EXPECT_EQ(l.a.handled, offsets(0, 0, 10)) << "each input handled once";
}

// flush() says redo (a half-written file): every partition is revoked to
// the actor at its last commit and read again from there.
TEST(runner_commits, a_redo_re_reads_from_the_last_commit) {
  loop l(1);
  l.fill(0, names("a", 8));
  l.a.redo_at_flush = 2;  // the second batch's
  l.script = [&] {
    if (l.committed(0) == 8) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  auto expected = offsets(0, 0, 8);
  for (const auto& o : offsets(0, 4, 8)) expected.push_back(o);
  EXPECT_EQ(l.a.handled, expected);
  ASSERT_FALSE(l.a.revokes.empty());
  EXPECT_EQ(l.a.revokes.front(), (std::vector<topic_partition>{{"t.in", 0, 4}}));
  EXPECT_EQ(l.counter("ctk_batches_redone_total"), 1u);
}

// The broker fails one delivery of the second batch: its input is read and
// handled again (at least once), and the commit never passes it meanwhile.
TEST(runner_commits, a_failed_delivery_redoes_its_batch_and_loses_nothing) {
  loop l(1);
  l.fill(0, names("a", 8));
  int failures = 0;
  l.t->fail_delivery = [&](const memory_transport::outgoing& o) {
    return o.value == "a5" && failures++ == 0 ? std::string("Broker: Not enough in-sync replicas") : std::string();
  };
  l.t->refuse_commit = [&](const std::vector<topic_partition>& offs) {
    if (failures == 1 && l.a.handled.size() < 12) {
      for (const auto& o : offs) EXPECT_LE(o.offset, 4) << "committed past a failed delivery";
    }
    return std::string();
  };
  l.script = [&] {
    if (l.committed(0) == 8) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  auto out = l.out_values(0);
  for (const auto& v : names("a", 8)) EXPECT_NE(std::find(out.begin(), out.end(), v), out.end()) << v << " lost";
  for (const auto& v : names("a", 4)) EXPECT_EQ(std::count(out.begin(), out.end(), v), 1) << v;
  EXPECT_EQ(l.counter("ctk_batches_redone_total"), 1u);
}

// The broker refuses a commit during a rebalance, then the partition comes
// back to this member: it resumes after the acknowledged output instead of
// at the old commit, so no input is handled twice, and the kept offset is
// committed once the group is stable.
TEST(runner_commits, a_commit_refused_in_a_rebalance_is_carried_into_the_next_assignment) {
  loop l(1);
  l.fill(0, names("a", 8));
  bool refusing = true, rebalanced = false;
  int refused = 0;
  l.t->refuse_commit = [&](const std::vector<topic_partition>&) {
    if (!refusing) return std::string();
    ++refused;
    return std::string("Broker: Group rebalance in progress");
  };
  l.script = [&] {
    if (rebalanced) refusing = false;  // this poll did the rebalance
    if (refused > 0 && !rebalanced) {
      l.t->rebalance();
      rebalanced = true;
    }
    if (l.committed(0) == 8) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_GE(refused, 2) << "refused at the batch and again at the revoke";
  EXPECT_EQ(l.a.handled, offsets(0, 0, 8)) << "each input handled once";
  ASSERT_GE(l.a.assigns.size(), 2u);
  EXPECT_EQ(l.a.assigns[1], (std::vector<topic_partition>{{"t.in", 0, 4}}));
  EXPECT_EQ(l.out_values(0), names("a", 8));
}

// handle() says retry: the same message is offered again after a backoff,
// and nothing behind it is handled first.
TEST(runner_verdicts, retry_calls_again_in_order) {
  loop l(1);
  l.fill(0, names("a", 8));
  l.a.retries_left["a2"] = 2;
  l.script = [&] {
    if (l.committed(0) == 8) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_EQ(l.a.handled, offsets(0, 0, 8));
  EXPECT_EQ(l.counter("ctk_retried_total"), 2u);
}

// A dead-letter verdict and output the producer refuses both become dead
// letters that name the input; the input is committed past them.
TEST(runner_verdicts, dead_letters_name_their_input_and_are_committed_past) {
  loop l(1);
  l.fill(0, {"a0", "bad1", "too-far", "a3"});
  l.script = [&] {
    if (l.committed(0) == 4) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  const auto dls = l.dead_letters();
  ASSERT_EQ(dls.size(), 2u);
  EXPECT_EQ(dls[0].rule, "bad_value");
  EXPECT_EQ(dls[0].offset, 1);
  EXPECT_EQ(dls[0].topic, "t.in");
  EXPECT_EQ(dls[0].actor, "test/relay/0");
  EXPECT_EQ(dls[1].rule, "output_rejected");
  EXPECT_EQ(dls[1].offset, 2);
  EXPECT_NE(dls[1].reason.find("Unknown partition"), std::string::npos) << dls[1].reason;
  EXPECT_EQ(l.out_values(0), (std::vector<std::string>{"a0", "a3"}));
  EXPECT_EQ(l.counter("ctk_dead_lettered_total"), 2u);
}

// The producer cannot take output for a while because of the topic's or
// the broker's state (here: authorization, as a broker error leaves it):
// the input is retried until it can, never dead-lettered.
TEST(runner_verdicts, output_the_topic_cannot_take_now_is_retried_not_dead_lettered) {
  loop l(1);
  l.fill(0, names("a", 6));
  l.t->refuse_produce = "Broker: Topic authorization failed";
  int polls = 0;
  l.script = [&] {
    if (++polls == 5) l.t->refuse_produce.clear();
    if (l.committed(0) == 6) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_TRUE(l.dead_letters().empty());
  EXPECT_EQ(l.out_values(0), names("a", 6));
  EXPECT_GE(l.counter("ctk_retried_total"), 1u);
}

// The log's head was dropped past the group's commit: reported as data
// loss (counted, dead-lettered with how much) and read on from what is left.
TEST(runner_verdicts, an_offset_the_log_dropped_is_data_loss_not_skipped) {
  loop l(1);
  l.fill(0, names("a", 10));
  l.t->set_committed("t.in", 0, 2);
  l.t->drop_head("t.in", 0, 5);
  l.script = [&] {
    if (l.committed(0) == 10) l.stop = true;
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_EQ(l.a.handled, offsets(0, 5, 10));
  const auto dls = l.dead_letters();
  ASSERT_EQ(dls.size(), 1u);
  EXPECT_EQ(dls[0].rule, "data_loss");
  EXPECT_NE(dls[0].reason.find("3 messages were dropped"), std::string::npos) << dls[0].reason;
  EXPECT_EQ(l.counter("ctk_data_loss_messages_total"), 3u);
}

// A stop asked for mid-stream (SIGTERM) finishes the batch in hand, commits
// it and leaves the group: what was handled is committed, nothing more.
TEST(runner_verdicts, a_stop_finishes_the_batch_commits_and_leaves) {
  loop l(1);
  l.fill(0, names("a", 12));
  l.t->after_poll = [&](const std::vector<ctk::kafka::polled>& got) {
    if (!got.empty()) l.stop = true;  // the first batch is in hand
  };
  EXPECT_EQ(l.run(), 0);
  EXPECT_EQ(l.a.handled, offsets(0, 0, 4));
  EXPECT_EQ(l.committed(0), 4);
  ASSERT_EQ(l.a.revokes.size(), 1u) << "left the group";
  EXPECT_TRUE(l.t->assignment().empty());
}

// A metrics endpoint stopped right after it started: cpp-httplib's stop()
// does nothing before the listening thread has begun, and the listen that
// followed never ended (a runner that stopped within a millisecond hung in
// its destructor). Started and stopped at once, many times, it ends.
TEST(metrics_endpoint, stopped_right_after_it_starts_it_ends) {
  ctk::pipeline::metrics_registry reg{ctk::pipeline::actor_labels("relay", "test/relay/0")};
  for (int i = 0; i < 300; ++i) {
    ctk::pipeline::metrics_server s(reg);
    std::string err;
    ASSERT_TRUE(s.start("127.0.0.1", 0, err)) << err;
  }  // each destructor stops its server; without the wait one of them hangs (ctest's timeout fails it)
}
