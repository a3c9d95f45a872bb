// dedup's rebuild protocol, step by step, with the actor in this process
// and a real embedded broker: output a dead owner never checkpointed must
// survive two changes of owner (the bug the fault test caught under load).
#include <gtest/gtest.h>

#include "actors/dedup/dedup.h"
#include "tests/integration/helpers.h"
#include "tests/integration/records.h"

using namespace ctk;
using namespace ctk::test;

namespace {

// Produces what the actor emits to the real broker; flush() waits for it.
class producing_emitter final : public pipeline::emitter {
 public:
  explicit producing_emitter(const std::string& bootstrap) {
    std::string err;
    p_ = kafka::producer::create({{"bootstrap.servers", bootstrap}}, err);
    if (!p_) throw std::runtime_error(err);
  }
  void emit(std::string_view topic, std::string_view key, std::string_view value, std::int32_t partition) override {
    std::string err;
    // A lost unique record: as a delivery that failed, or a request to
    // another broker that the process died before sending.
    if (topic == "unique" && lose_unique) return;
    if (!p_->produce("ctk." + std::string(topic), partition, key, value, &err, 0)) throw std::runtime_error(err);
    if (topic == "unique") ++unique;
  }
  bool dead_letter(std::string_view, std::int32_t, std::int64_t, std::string_view, std::string_view,
                   const pipeline::outcome&) override {
    return true;
  }
  void flush() {
    std::string err;
    if (!p_->flush(err)) throw std::runtime_error(err);
  }
  int unique = 0;
  bool lose_unique = false;

 private:
  std::unique_ptr<kafka::producer> p_;
};

// A broker, a config that points at it, and an emitter into it.
class dedup_rebuild : public ::testing::Test {
 protected:
  dedup_rebuild() { cfg.cluster.kafka.bootstrap = b.bootstrap(); }
  broker b;
  cfg::loaded_config cfg;
  producing_emitter out{b.bootstrap()};
};

}  // namespace

TEST_F(dedup_rebuild, a_dead_owners_unchecked_output_survives_two_changes_of_owner) {
  const std::string id1 = test_id(1), id2 = test_id(2);
  const std::string r1 = unique_market(1), r2 = unique_market(2);

  // Owner A emitted record 1 to unique p0 and died before checkpointing it.
  out.emit("unique", id1, r1, 0);
  out.flush();

  // Owner B: rebuilds (finds record 1 in the tail), handles record 2,
  // checkpoints (its marker now points past record 1).
  {
    pipeline::metrics_registry metrics;
    auto owner_b = dedup::make_dedup({cfg, "test/dedup/b", metrics});
    std::vector<kafka::topic_partition> parts{{"ctk.valid", 0, 0}};
    owner_b->on_assign(parts);
    ASSERT_EQ(owner_b->handle({"ctk.valid", 0, 0, id2, r2}, out).v, pipeline::verdict::ok);
    ASSERT_EQ(owner_b->flush(out).v, pipeline::verdict::ok);
    out.flush();
    owner_b->on_acknowledged({{"ctk.valid", 0, 1}}, out);  // record 2 is stored: checkpoint and marker
    out.flush();
    owner_b->on_revoke(parts);
  }
  ASSERT_EQ(out.unique, 2);

  // Owner C: record 1 is redelivered (A never committed it) and must be
  // recognised, though it sits before B's marker and A never checkpointed it.
  pipeline::metrics_registry metrics;
  auto owner_c = dedup::make_dedup({cfg, "test/dedup/c", metrics});
  std::vector<kafka::topic_partition> parts{{"ctk.valid", 0, 0}};
  owner_c->on_assign(parts);
  ASSERT_EQ(owner_c->handle({"ctk.valid", 0, 0, id1, r1}, out).v, pipeline::verdict::ok);
  ASSERT_EQ(owner_c->handle({"ctk.valid", 0, 1, id2, r2}, out).v, pipeline::verdict::ok);
  out.flush();
  EXPECT_EQ(out.unique, 2) << "a record was emitted to unique twice";
}

TEST_F(dedup_rebuild, a_checkpoint_waits_until_its_unique_record_is_stored) {
  const std::string id1 = test_id(1), r1 = unique_market(1);
  std::vector<kafka::topic_partition> parts{{"ctk.valid", 0, 0}};

  // Owner A handles record 1; its unique record never reaches the broker,
  // while what A writes to dedup.state at the seal does. A dies.
  {
    pipeline::metrics_registry metrics;
    auto owner_a = dedup::make_dedup({cfg, "test/dedup/a", metrics});
    owner_a->on_assign(parts);
    out.lose_unique = true;
    ASSERT_EQ(owner_a->handle({"ctk.valid", 0, 0, id1, r1}, out).v, pipeline::verdict::ok);
    ASSERT_EQ(owner_a->flush(out).v, pipeline::verdict::ok);
    out.flush();
    out.lose_unique = false;
  }
  ASSERT_EQ(out.unique, 0);

  // Owner B: record 1 is redelivered (never committed) and must go out:
  // had A checkpointed it at the seal, B would drop it as seen.
  pipeline::metrics_registry metrics;
  auto owner_b = dedup::make_dedup({cfg, "test/dedup/b", metrics});
  owner_b->on_assign(parts);
  ASSERT_EQ(owner_b->handle({"ctk.valid", 0, 0, id1, r1}, out).v, pipeline::verdict::ok);
  out.flush();
  EXPECT_EQ(out.unique, 1) << "record 1 was dropped as seen, but unique never got it";

  // Once it is stored, a third owner drops it (checkpoint or tail).
  ASSERT_EQ(owner_b->flush(out).v, pipeline::verdict::ok);
  owner_b->on_acknowledged({{"ctk.valid", 0, 1}}, out);
  out.flush();
  auto owner_c = dedup::make_dedup({cfg, "test/dedup/c", metrics});
  owner_c->on_assign(parts);
  ASSERT_EQ(owner_c->handle({"ctk.valid", 0, 0, id1, r1}, out).v, pipeline::verdict::ok);
  out.flush();
  EXPECT_EQ(out.unique, 1) << "a record was emitted to unique twice";
}
