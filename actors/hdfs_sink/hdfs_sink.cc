#include "actors/hdfs_sink/hdfs_sink.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "actors/hdfs_sink/avro_file.h"
#include "actors/hdfs_sink/layout.h"
#include "actors/hdfs_sink/open_files.h"
#include "actors/hdfs_sink/store.h"
#include "actors/hdfs_sink/writer.h"
#include "brokers/kafka.h"
#include "messages/envelope.h"
#include "messages/json.h"

namespace ctk::hdfs {

namespace {

using tp_key = std::pair<std::string, std::int32_t>;

class hdfs_sink final : public pipeline::actor {
 public:
  explicit hdfs_sink(const pipeline::actor_context& ctx)
      : settings_(ctx.config.cluster.hdfs),
        files_(ctx.metrics.counter("ctk_sink_files_committed_total", "files committed (renamed to their final name)")),
        records_(ctx.metrics.counter("ctk_sink_rows_written_total", "records in committed files")),
        bytes_(ctx.metrics.counter("ctk_sink_bytes_written_total", "bytes written to temporary files")),
        writes_(ctx.metrics.counter("ctk_sink_writes_total", "CREATE/APPEND calls")),
        write_us_(ctx.metrics.seconds_counter("ctk_sink_write_seconds_total", "time spent writing and committing")),
        errors_(ctx.metrics.counter("ctk_sink_write_errors_total", "store calls that failed")) {
    ctx.metrics.gauge("ctk_sink_open_files", "temporary files open",
                      [this] { return static_cast<double>(open_count_.load()); });
    ctx.metrics.gauge("ctk_sink_last_batch_rows", "records in the last commit of a partition",
                      [this] { return static_cast<double>(last_batch_.load()); });
    std::string err;
    store_ =
        make_store(settings_.url, {settings_.user, static_cast<int>(settings_.timeout.ms), settings_.retries}, err);
    if (!store_) throw std::runtime_error(err);
    writer_ = std::make_unique<writer_thread>(*store_, writer_thread::counters{bytes_, writes_, errors_}, stopping_);
    rotate_after_ = settings_.rotate_after.value();
    if (settings_.format == "avro") {
      avro_schema_ = make_avro_schema(err);
      if (!avro_schema_) throw std::runtime_error(err);
      std::string probe_out;  // the codec is checked now, not at the first record
      if (!avro_file::create(avro_schema_, settings_.avro_codec, 4096, &probe_out, err))
        throw std::runtime_error("hdfs.avro_codec " + settings_.avro_codec + ": " + err);
    }
    // For the log end offsets (a recreated log, see retire_recreated_logs).
    kafka::properties props = ctx.config.cluster.kafka.properties;
    props["bootstrap.servers"] = ctx.config.cluster.kafka.bootstrap;
    props["client.id"] = ctx.identity + "/watermarks";
    watermarks_ = kafka::watermarks::create(props, err);
    if (!watermarks_) throw std::runtime_error(err);
    spdlog::info("hdfs-sink: writing {} to {}; a partition's files are committed at {} records, {} bytes or {} old",
                 settings_.format == "avro" ? "Avro (codec " + settings_.avro_codec + ")" : std::string("JSON Lines"),
                 store_->describe(), settings_.rotate_records, settings_.rotate_bytes, settings_.rotate_after.text);
  }

  ~hdfs_sink() override {
    stopping_.store(true);
    writer_.reset();  // before the store it writes to
  }

  std::string name() const override { return "hdfs-sink"; }
  // Not ready (/readyz 503) while writes to the store keep failing.
  bool healthy() const override { return !writer_->failing(); }
  std::vector<std::string> inputs() const override { return {"unique"}; }

  void on_assign(std::vector<kafka::topic_partition>& parts) override {
    // Finish any commit a crash interrupted, drop stale temporary files,
    // then resume after the last offset in a final file name: the names are
    // the truth, Kafka's committed offset only a hint.
    quiesce();
    std::set<tp_key> want;
    for (const auto& p : parts) want.insert({p.topic, p.partition});
    std::map<tp_key, std::int64_t> resume;
    std::string why;
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
      ok = recover(want, resume, why);
      if (!ok) {
        spdlog::warn("hdfs-sink: recovery failed ({}), attempt {}/3", why, attempt + 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
      }
    }
    cached_ = nullptr;
    for (auto& p : parts) {
      const tp_key tp{p.topic, p.partition};
      partition_files& pf = open_[tp];
      pf = {};
      if (!ok) continue;  // handled records wait (retry) until the store answers
      auto it = resume.find(tp);
      const std::int64_t from = it == resume.end() ? kafka::offset_beginning : it->second;
      if (p.offset != from)
        spdlog::info("hdfs-sink: {}/{} resumes at {} (from the committed file names; Kafka said {})", p.topic,
                     p.partition, it == resume.end() ? std::string("the beginning") : std::to_string(from), p.offset);
      p.offset = from;
      pf.skip_below = it == resume.end() ? 0 : it->second;
      pf.recovered = true;
    }
  }

  void on_revoke(const std::vector<kafka::topic_partition>& parts) override {
    // Open files are dropped: whoever owns the partition next resumes from
    // the final names and deletes the temporary files.
    quiesce();
    dirs_made_.clear();
    for (const auto& p : parts) {
      const tp_key tp{p.topic, p.partition};
      if (auto it = open_.find(tp); it != open_.end()) {
        for (auto& [k, f] : it->second.files)
          if (f.created) {
            error e;
            store_->remove(f.tmp, false, e);
          }
        open_.erase(it);
      }
    }
    cached_ = nullptr;
    count_open();
  }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter&) override {
    partition_files& pf = partition_of(in);
    if (!pf.recovered)
      if (auto o = recover_partition(pf); o.v != pipeline::verdict::ok) return o;
    if (in.offset < pf.skip_below) return pipeline::outcome::ok();  // already in a committed file
    std::string_view source;
    char day[8];
    if (auto o = route(in.value, decoder_, source, day); o.v != pipeline::verdict::ok) return o;
    open_file* f = nullptr;
    if (auto o = file_for(pf, source, day, f); o.v != pipeline::verdict::ok) return o;
    if (auto o = f->avro ? append_avro(*f, in.value) : append_line(*f, in.value); o.v != pipeline::verdict::ok) {
      if (f->records == 0) {  // a file with no record is not kept open
        pf.files.erase(key_);
        count_open();
      }
      return o;
    }
    if (pf.first_open < 0) pf.first_open = in.offset;
    if (f->first < 0) f->first = in.offset;
    f->last = in.offset;
    ++f->records;
    return pipeline::outcome::ok();
  }

  pipeline::outcome flush(pipeline::emitter&) override { return write_and_rotate(false); }
  pipeline::outcome flush_all(pipeline::emitter&) override { return write_and_rotate(true); }
  pipeline::outcome idle(pipeline::emitter&) override { return write_and_rotate(false); }

  std::int64_t durable(std::string_view topic, std::int32_t partition, std::int64_t next) override {
    auto it = open_.find({std::string(topic), partition});
    if (it == open_.end() || it->second.first_open < 0) return next;
    return std::min(next, it->second.first_open);
  }

 private:
  // handle()'s steps. The input's partition (the last one is cached).
  partition_files& partition_of(const pipeline::input& in) {
    if (!cached_ || cached_partition_ != in.partition || cached_topic_ != in.topic) {
      const tp_key tp{std::string(in.topic), in.partition};
      cached_ = &open_[tp];
      cached_partition_ = in.partition;
      cached_topic_ = in.topic;
      cached_tp_ = tp;
    }
    return *cached_;
  }

  // A partition's first record: finish what a crash interrupted and skip
  // what is in committed files already.
  pipeline::outcome recover_partition(partition_files& pf) {
    quiesce();
    std::map<tp_key, std::int64_t> resume;
    std::string why;
    if (!recover({cached_tp_}, resume, why))
      return pipeline::outcome::retry("hdfs-sink: recovery of the store failed: " + why);
    auto it = resume.find(cached_tp_);
    pf.skip_below = it == resume.end() ? 0 : it->second;
    pf.recovered = true;
    return pipeline::outcome::ok();
  }

  // The open file of source/day in this partition (key_), opened if new.
  pipeline::outcome file_for(partition_files& pf, std::string_view source, const char (&day)[8], open_file*& out) {
    key_.assign(source);
    key_ += '/';
    key_.append(day, 8);
    auto found = pf.files.find(key_);
    if (found == pf.files.end()) {
      found = pf.files.try_emplace(key_).first;
      open_file& f = found->second;
      const std::string d(day, 8);
      f.dir = "/raw/" + std::string(source) + "/" + d;
      f.tmp = tmp_dir(cached_tp_) + "/" + std::string(source) + "+" + d + "+" + nonce() + "." + ext();
      if (avro_schema_) {
        std::string err;
        f.avro = avro_file::create(avro_schema_, settings_.avro_codec,
                                   static_cast<std::size_t>(settings_.avro_block_bytes), &f.buffer, err);
        if (!f.avro) {
          pf.files.erase(found);
          return pipeline::outcome::retry("hdfs-sink: " + err);
        }
      }
      if (pf.files.size() == 1) pf.opened = clock::now();
      count_open();
    }
    out = &found->second;
    return pipeline::outcome::ok();
  }

  static pipeline::outcome append_avro(open_file& f, std::string_view value) {
    std::string err;
    if (!f.avro->append(value, err)) return pipeline::outcome::dead_letter("avro", err);
    return pipeline::outcome::ok();
  }

  // JSON Lines: one record per line; a pretty-printed value is minified.
  static pipeline::outcome append_line(open_file& f, std::string_view value) {
    if (value.find('\n') != std::string_view::npos) {
      std::string min(value.size(), '\0');
      std::size_t len = 0;
      if (simdjson::minify(value.data(), value.size(), min.data(), len))
        return pipeline::outcome::dead_letter("format", "value cannot be put on one line");
      f.buffer.append(min.data(), len);
    } else {
      f.buffer.append(value);
    }
    f.buffer += '\n';
    return pipeline::outcome::ok();
  }

  std::string ext() const { return avro_schema_ ? "avro" : "jsonl"; }
  std::string tmp_dir(const tp_key& tp) const { return "/_tmp/" + tp.first + "+" + std::to_string(tp.second); }
  std::string wal_path(const tp_key& tp) const {
    return "/_wal/" + tp.first + "+" + std::to_string(tp.second) + ".json";
  }

  void count_open() {
    std::size_t n = 0;
    for (const auto& [tp, pf] : open_) n += pf.files.size();
    open_count_.store(n);
  }

  // The writer idle, its failure (if any) forgotten: the callers redo or
  // recover the partitions, which deletes what the writer left half done.
  void quiesce() {
    writer_->barrier();
    writer_->reset();
  }

  pipeline::outcome write_and_rotate(bool all) {
    if (writer_->failed()) return pipeline::outcome::redo("hdfs-sink: " + writer_->barrier());
    const auto t0 = clock::now();
    std::vector<std::pair<tp_key, partition_files*>> due;
    for (auto& [tp, pf] : open_) {
      bool is_due = all && !pf.files.empty();
      for (auto& [k, f] : pf.files) {
        if (f.avro) {
          std::string err;
          if (!f.avro->flush(err)) return pipeline::outcome::redo("hdfs-sink: " + err);
        }
        if (!f.buffer.empty()) {
          const auto n = static_cast<std::int64_t>(f.buffer.size());
          // file://: the write-back is started per sync_step of new bytes,
          // so that the fsync at the commit finds little left to do.
          std::int64_t sync_from = -1;
          if (f.written + n - f.sync_mark >= sync_step) {
            sync_from = f.sync_mark;
            f.sync_mark = f.written + n;
          }
          writer_->submit(f.tmp, !f.created, f.written, f.buffer, sync_from);
          f.created = true;
          f.written += n;
        }
        if (f.records >= settings_.rotate_records || f.written >= settings_.rotate_bytes) is_due = true;
      }
      if (!pf.files.empty() && clock::now() - pf.opened >= rotate_after_) is_due = true;
      if (is_due) due.emplace_back(tp, &pf);
    }
    if (!due.empty())
      if (auto o = commit(due); o.v != pipeline::verdict::ok) return o;
    write_us_.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count()));
    count_open();
    return pipeline::outcome::ok();
  }

  // Commit every open file of each due partition together: durable bytes,
  // then each partition's list of renames in its log, then the renames,
  // then the logs removed. A crash anywhere is finished (or undone) by
  // recover(). Partitions due at the same time share the syncs: all files'
  // write-back starts at once, and each final folder is synced once.
  pipeline::outcome commit(const std::vector<std::pair<tp_key, partition_files*>>& due) {
    if (auto failure = writer_->barrier(); !failure.empty()) return pipeline::outcome::redo("hdfs-sink: " + failure);
    error e;
    for (const auto& [tp, pf] : due)
      for (auto& [k, f] : pf->files) store_->start_sync(f.tmp);
    struct plan {
      const tp_key* tp;
      std::vector<std::pair<std::string, std::string>> renames;
      std::int64_t records = 0;
    };
    std::vector<plan> plans;
    std::set<std::string> dirs;
    for (const auto& [tp, pf] : due) {
      plan p{&tp, {}, 0};
      std::string wal = "{\"renames\":[";
      for (auto& [k, f] : pf->files) {
        if (!store_->sync(f.tmp, e) || (!dirs_made_.count(f.dir) && !store_->mkdirs(f.dir, e))) {
          errors_.fetch_add(1);
          return pipeline::outcome::retry("hdfs-sink: " + e.message);
        }
        dirs_made_.insert(f.dir);
        dirs.insert(f.dir);
        const std::string to = f.dir + "/" + format_final_name({tp.first, tp.second, f.first, f.last}, ext());
        wal += (p.renames.empty() ? "[\"" : ",[\"") + f.tmp + "\",\"" + to + "\"]";
        p.renames.emplace_back(f.tmp, to);
        p.records += f.records;
      }
      wal += "]}";
      if ((!dirs_made_.count("/_wal") && !store_->mkdirs("/_wal", e)) || !store_->create(wal_path(tp), wal, true, e)) {
        errors_.fetch_add(1);
        return pipeline::outcome::retry("hdfs-sink: writing the commit log: " + e.message);
      }
      dirs_made_.insert("/_wal");
      plans.push_back(std::move(p));
    }
    for (const auto& p : plans)
      for (const auto& [from, to] : p.renames)
        if (!store_->rename(from, to, e)) {
          errors_.fetch_add(1);
          dirs_made_.clear();
          // The logs stay: the next assignment (after this redo) completes them.
          return pipeline::outcome::redo("hdfs-sink: rename " + from + " -> " + to + " failed" +
                                         (e.message.empty() ? std::string(" (destination exists)") : ": " + e.message));
        }
    // The renames are durable once their folders are (file://: fsync of each folder, once).
    for (const auto& d : dirs)
      if (!store_->sync(d, e)) spdlog::warn("hdfs-sink: {}", e.message);
    for (const auto& p : plans) {
      if (!store_->remove(wal_path(*p.tp), false, e))
        spdlog::warn("hdfs-sink: {} (the commit is complete; the log is replayed harmlessly)", e.message);
      files_.fetch_add(p.renames.size());
      records_.fetch_add(static_cast<std::uint64_t>(p.records));
      last_batch_.store(static_cast<std::uint64_t>(p.records));
    }
    for (const auto& [tp, pf] : due) {
      pf->files.clear();
      pf->first_open = -1;
    }
    return pipeline::outcome::ok();
  }

  // For each partition in `want`: replay its commit log, delete its
  // temporary files, and find the next offset after its final files.
  bool recover(const std::set<tp_key>& want, std::map<tp_key, std::int64_t>& resume, std::string& why) {
    error e;
    std::map<tp_key, std::vector<std::string>> finals;  // committed files per partition
    for (const auto& tp : want) {
      if (auto wal = store_->read(wal_path(tp), e)) {
        if (!replay(*wal, why)) return false;
        if (!store_->remove(wal_path(tp), false, e)) return why = e.message, false;
      } else if (!e.missing) {
        return why = e.message, false;
      }
      if (!store_->remove(tmp_dir(tp), true, e) && !e.missing) return why = e.message, false;
    }
    // One walk of /raw/{source}/{day}/ for all partitions.
    auto sources = store_->list("/raw", e);
    if (!sources) return e.missing || (why = e.message, false);
    for (const auto& s : *sources) {
      if (!s.directory) continue;
      auto days = store_->list("/raw/" + s.name, e);
      if (!days) return why = e.message, false;
      for (const auto& d : *days) {
        if (!d.directory) continue;
        auto files = store_->list("/raw/" + s.name + "/" + d.name, e);
        if (!files) return why = e.message, false;
        for (const auto& f : *files) {
          auto n = parse_final_name(f.name);
          if (!n || !want.count({n->topic, n->partition})) continue;
          auto& r = resume[{n->topic, n->partition}];
          r = std::max(r, n->last + 1);
          finals[{n->topic, n->partition}].push_back("/raw/" + s.name + "/" + d.name + "/" + f.name);
        }
      }
    }
    return retire_recreated_logs(resume, finals, why);
  }

  // A partition whose log ends before its committed files do was recreated
  // (an embedded broker restarted, a topic deleted and made again): its
  // offsets start over and the old names would hide the new records. The
  // old files keep their data and folder but are renamed
  // `{topic}.before-{UTC time}+…`, which no longer counts for resuming.
  bool retire_recreated_logs(std::map<tp_key, std::int64_t>& resume,
                             const std::map<tp_key, std::vector<std::string>>& finals, std::string& why) {
    if (!watermarks_) return true;
    for (auto it = resume.begin(); it != resume.end();) {
      std::int64_t low = 0, high = 0;
      if (!watermarks_->query(it->first.first, it->first.second, low, high, why)) return false;
      if (high >= it->second) {
        ++it;
        continue;
      }
      const std::string stamp = msg::utc_now_iso().substr(0, 19);
      std::string tag = it->first.first + ".before-";
      for (char c : stamp)
        if (std::isdigit(static_cast<unsigned char>(c)) || c == 'T') tag += c;
      spdlog::critical(
          "hdfs-sink: {}/{} ends at offset {} but its files reach {}: the log was recreated. Its {} "
          "files are renamed {}+… (data kept) and the partition is written again from its start",
          it->first.first, it->first.second, high, it->second - 1, finals.at(it->first).size(), tag);
      error e;
      for (const auto& path : finals.at(it->first)) {
        const auto slash = path.rfind('/');
        const std::string name = path.substr(slash + 1);
        if (!store_->rename(path, path.substr(0, slash + 1) + tag + name.substr(it->first.first.size()), e) &&
            !e.message.empty())
          return why = e.message, false;
      }
      it = resume.erase(it);
    }
    return true;
  }

  // A log left by a crash mid-commit: every file was complete before the
  // log was written, so the renames are finished.
  bool replay(const std::string& wal, std::string& why) {
    simdjson::dom::parser p;
    simdjson::dom::array arr;
    if (p.parse(wal).at_pointer("/renames").get_array().get(arr)) {
      // A log cut short was being written when the process died: no rename
      // had started. The temporary files are deleted next.
      spdlog::warn("hdfs-sink: ignoring an incomplete commit log");
      return true;
    }
    for (auto pair : arr) {
      std::string_view from, to;
      if (pair.at(0).get(from) || pair.at(1).get(to)) continue;
      error e;
      if (store_->rename(std::string(from), std::string(to), e)) {
        spdlog::info("hdfs-sink: completed an interrupted commit: {}", to);
        continue;
      }
      if (!e.message.empty() && !e.missing) return why = e.message, false;
      // Already renamed (source missing, or destination present): done.
    }
    return true;
  }

  cfg::hdfs_settings settings_;
  std::atomic<std::uint64_t>& files_;
  std::atomic<std::uint64_t>& records_;
  std::atomic<std::uint64_t>& bytes_;
  std::atomic<std::uint64_t>& writes_;
  std::atomic<std::uint64_t>& write_us_;
  std::atomic<std::uint64_t>& errors_;
  std::unique_ptr<store> store_;
  std::shared_ptr<avro_schema> avro_schema_;  // format avro
  std::unique_ptr<kafka::watermarks> watermarks_;
  std::chrono::milliseconds rotate_after_{60'000};
  msg::json_decoder decoder_;
  std::map<tp_key, partition_files> open_;  // per assigned partition
  partition_files* cached_ = nullptr;       // the last record's partition (stable: std::map)
  std::int32_t cached_partition_ = -1;
  std::string cached_topic_;
  tp_key cached_tp_;
  std::string key_;                  // "{source}/{day}", reused
  std::set<std::string> dirs_made_;  // folders known to exist (MKDIRS once)
  std::atomic<bool> stopping_{false};

  std::atomic<std::uint64_t> open_count_{0};
  std::atomic<std::uint64_t> last_batch_{0};
  std::unique_ptr<writer_thread> writer_;  // last: stopped first (the destructor also stops it before store_)
};

}  // namespace

std::unique_ptr<pipeline::actor> make_hdfs_sink(const pipeline::actor_context& ctx) {
  return std::make_unique<hdfs_sink>(ctx);
}

}  // namespace ctk::hdfs
