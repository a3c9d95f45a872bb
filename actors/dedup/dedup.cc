#include "actors/dedup/dedup.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>
#include <span>

#include "actors/dedup/seen_set.h"
#include "brokers/kafka.h"
#include "messages/json.h"

namespace ctk::dedup {

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// dedup.state value of an id: {"exp":SECONDS}; of the marker: {"unique_from":OFFSET}.
struct state_value {
  std::optional<std::int64_t> exp;
  std::optional<std::int64_t> unique_from;
  static constexpr auto fields() {
    return std::tuple{msg::field("exp", &state_value::exp, false),
                      msg::field("unique_from", &state_value::unique_from, false)};
  }
};

std::string marker_key(std::int32_t partition) { return "~marker/" + std::to_string(partition); }

class dedup_actor final : public pipeline::actor {
 public:
  explicit dedup_actor(const pipeline::actor_context& ctx)
      : names_{ctx.config.cluster.kafka.prefix},
        duplicates_(ctx.metrics.counter("ctk_dedup_duplicates_total", "records dropped as already seen")),
        evicted_(ctx.metrics.counter("ctk_dedup_evicted_ids_total",
                                     "ids forgotten before their TTL to stay within dedup.max_ids_per_partition")) {
    props_ = ctx.config.cluster.kafka.properties;
    props_["bootstrap.servers"] = ctx.config.cluster.kafka.bootstrap;
    props_["client.id"] = ctx.identity + "/state";
    ttl_s_ = ctx.config.cluster.dedup.ttl.ms / 1000;
    max_ids_ = static_cast<std::size_t>(ctx.config.cluster.dedup.max_ids_per_partition);
    std::string err;
    watermarks_ = kafka::watermarks::create(props_, err);
    if (!watermarks_) throw std::runtime_error(err);
    reader_ = std::make_unique<kafka::partition_reader>(props_);
  }

  std::string name() const override { return "dedup"; }
  std::vector<std::string> inputs() const override { return {"valid"}; }
  std::vector<std::string> outputs() const override { return {"unique", "dedup.state"}; }

  void on_assign(std::vector<kafka::topic_partition>& parts) override {
    for (const auto& p : parts) rebuild(p.partition);
  }

  void on_revoke(const std::vector<kafka::topic_partition>& parts) override {
    // Un-checkpointed ids are dropped with the state: after a rebuild the
    // tail of `unique` brings them back.
    for (const auto& p : parts) state_.erase(p.partition);
  }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter& out) override {
    auto it = state_.find(in.partition);
    if (it == state_.end()) {
      rebuild(in.partition);  // after a rewind (on_revoke of everything) the state is rebuilt here
      it = state_.find(in.partition);
      if (it == state_.end())
        return pipeline::outcome::retry("state of partition " + std::to_string(in.partition) + " not rebuilt");
    }
    auto id = parse_id(in.key);
    if (!id) return pipeline::outcome::dead_letter("id", "key is not a 32-hex record id");
    partition_state& st = it->second;
    const std::int64_t now = now_s();
    if (st.seen.contains(*id, now)) {
      duplicates_.fetch_add(1);
      return pipeline::outcome::ok();
    }
    // Same partition number downstream, so a record id always meets the
    // same seen-set and `unique` p holds exactly what this set admitted.
    out.emit("unique", in.key, in.value, in.partition);
    const std::int64_t exp = now + ttl_s_;
    evicted_.fetch_add(st.seen.insert(*id, exp));  // ids evicted to make room, not rounds of eviction
    st.emitted.push_back({in.offset, std::string(in.key), exp});
    st.next_input = in.offset + 1;
    return pipeline::outcome::ok();
  }

  // The seal of a batch: remember where its input ends and the end of
  // unique p known before it, for the checkpoint once its output is
  // stored; write at once the ids a rebuild found in the tail (stored
  // already).
  pipeline::outcome flush(pipeline::emitter& out) override {
    const auto t = std::chrono::steady_clock::now();
    due_.clear();
    for (auto& [p, st] : state_) {
      emit_state(out, p, st.from_tail);
      st.from_tail.clear();
      if (st.next_input >= 0 && (st.seals.empty() || st.seals.back().first < st.next_input))
        st.seals.emplace_back(st.next_input, st.unique_from);
      // What is emitted from the next batch on lands at or after the
      // current end of unique p. The end is asked for at most every
      // marker_refresh, for all partitions due in one request: one round
      // trip per partition per batch cost a third of dedup's time. A value
      // that lags is only lower, which is safe: a rebuild then reads a
      // little more of the tail.
      if (t - st.marker_refreshed >= marker_refresh) due_.push_back({names_.topic("unique"), p, 0});
    }
    std::string err;
    if (!due_.empty() && watermarks_->log_ends(due_, err))  // unanswered: asked again at the next seal
      for (const auto& d : due_) {
        auto it = state_.find(d.partition);
        if (d.offset < 0 || it == state_.end()) continue;
        it->second.unique_from = d.offset;
        it->second.marker_refreshed = t;
      }
    return pipeline::outcome::ok();
  }

  // Checkpoint: the unique records of input up to `through` are stored,
  // so their ids go to dedup.state, then a marker: every record below the
  // end of unique p measured at that input's seal is checkpointed now.
  // Never earlier: a checkpoint stored before its record (another broker,
  // a failed delivery) would make a rebuild drop the redelivered input.
  void on_acknowledged(const std::vector<kafka::topic_partition>& through, pipeline::emitter& out) override {
    for (const auto& tp : through) {
      auto it = state_.find(tp.partition);
      if (it == state_.end()) continue;
      partition_state& st = it->second;
      std::size_t n = 0;
      while (n < st.emitted.size() && st.emitted[n].offset < tp.offset) ++n;
      emit_state(out, tp.partition, std::span(st.emitted.data(), n));
      st.emitted.erase(st.emitted.begin(), st.emitted.begin() + static_cast<std::ptrdiff_t>(n));
      std::optional<std::int64_t> marker;
      while (!st.seals.empty() && st.seals.front().first <= tp.offset) {
        marker = st.seals.front().second;
        st.seals.pop_front();
      }
      if (!marker) continue;
      std::string value;
      msg::encode(state_value{std::nullopt, *marker}, value);
      out.emit("dedup.state", marker_key(tp.partition), value, tp.partition);
    }
  }

  ~dedup_actor() override {
    spdlog::info("dedup: {} duplicates dropped, {} ids evicted for room", duplicates_.load(), evicted_.load());
  }

 private:
  struct emitted_id {
    std::int64_t offset;  // of the input on valid p
    std::string key;
    std::int64_t exp;
  };
  struct partition_state {
    seen_set seen;
    std::vector<emitted_id> emitted;                          // emitted to unique p, not checkpointed yet
    std::vector<emitted_id> from_tail;                        // found by the rebuild, checkpointed at the next seal
    std::deque<std::pair<std::int64_t, std::int64_t>> seals;  // (input end, unique_from then)
    std::int64_t next_input = -1;
    std::int64_t unique_from = 0;
    std::chrono::steady_clock::time_point marker_refreshed{};
  };

  void emit_state(pipeline::emitter& out, std::int32_t p, std::span<const emitted_id> ids) {
    std::string value;
    std::int64_t encoded_exp = -1;
    for (const auto& e : ids) {
      // Ids of one batch mostly share their expiry second: encode it once.
      if (e.exp != encoded_exp) {
        msg::encode(state_value{e.exp, std::nullopt}, value);
        encoded_exp = e.exp;
      }
      out.emit("dedup.state", e.key, value, p);
    }
  }
  static constexpr std::chrono::milliseconds marker_refresh{250};

  void rebuild(std::int32_t p) {
    const auto t0 = std::chrono::steady_clock::now();
    partition_state st{seen_set(max_ids_, ttl_s_ * 1000)};
    const std::int64_t now = now_s();
    std::int64_t marker = kafka::offset_beginning;
    std::size_t from_state = 0, from_tail = 0;
    std::string err;
    const std::string mkey = marker_key(p);
    msg::decode_error derr;
    state_value v;
    auto end = reader_->read(
        names_.topic("dedup.state"), p, kafka::offset_beginning,
        [&](const kafka::message& m) {
          const auto key = kafka::key(m);
          v = {};
          if (!decoder_.decode(kafka::payload(m), v, derr)) return;
          if (key == mkey) {
            if (v.unique_from) marker = *v.unique_from;
          } else if (auto id = parse_id(key); id && v.exp && *v.exp > now) {
            st.seen.insert(*id, *v.exp);
            ++from_state;
          }
        },
        err);
    if (end < 0) {
      spdlog::error("dedup: cannot read dedup.state/{}: {}", p, err);
      return;  // handle() asks for a retry until it can
    }
    // What was emitted after the last checkpoint: the tail of unique p.
    // Those ids are checkpointed again at the next seal, before any marker
    // of this owner moves past the tail: a later rebuild must still find
    // them (without it, a second rebuild forgot a dead owner's unchecked
    // output).
    end = reader_->read(
        names_.topic("unique"), p, marker,
        [&](const kafka::message& m) {
          if (auto id = parse_id(kafka::key(m))) {
            st.seen.insert(*id, now + ttl_s_);
            st.from_tail.push_back({-1, std::string(kafka::key(m)), now + ttl_s_});
            ++from_tail;
          }
        },
        err);
    if (end < 0) {
      spdlog::error("dedup: cannot read unique/{}: {}", p, err);
      return;
    }
    st.unique_from = end;
    spdlog::info(
        "dedup: partition {} rebuilt with {} ids from dedup.state and {} from the unique tail (from offset {}) in {} "
        "ms; {} bytes",
        p, from_state, from_tail, marker,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count(),
        st.seen.memory_bytes());
    state_.insert_or_assign(p, std::move(st));
  }

  kafka::names names_;
  kafka::properties props_;
  std::unique_ptr<kafka::partition_reader> reader_;  // one consumer handle for every rebuild
  std::unique_ptr<kafka::watermarks> watermarks_;
  std::vector<kafka::topic_partition> due_;  // partitions whose marker is asked for at this seal
  std::int64_t ttl_s_ = 0;
  std::size_t max_ids_ = 0;
  std::map<std::int32_t, partition_state> state_;
  msg::json_decoder decoder_;
  std::atomic<std::uint64_t>& duplicates_;
  std::atomic<std::uint64_t>& evicted_;
};

}  // namespace

std::unique_ptr<pipeline::actor> make_dedup(const pipeline::actor_context& ctx) {
  return std::make_unique<dedup_actor>(ctx);
}

}  // namespace ctk::dedup
