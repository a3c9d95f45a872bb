#include "batch/day.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <simdjson.h>

#include <algorithm>
#include <ctime>
#include <deque>
#include <future>
#include <set>
#include <thread>

#include "actors/hdfs_sink/layout.h"
#include "actors/hdfs_sink/records.h"
#include "actors/validator/normalize.h"

namespace ctk::batch {

namespace {

std::optional<std::time_t> parse_day(const std::string& text) {
  std::string digits;
  for (char c : text)
    if (c != '-') digits += c;
  std::tm tm{};
  if (digits.size() != 8 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
  tm.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(digits.substr(6, 2));
  const std::tm asked = tm;
  const std::time_t t = ::timegm(&tm);
  if (tm.tm_year != asked.tm_year || tm.tm_mon != asked.tm_mon || tm.tm_mday != asked.tm_mday) return std::nullopt;
  return t;
}

// "20261206" for a UTC time (the validator's formatter, dashes dropped).
std::string yyyymmdd(std::time_t t) {
  std::string day = validator::format_utc_ms(static_cast<std::int64_t>(t) * 1000).substr(0, 10);
  day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
  return day;
}

}  // namespace

std::optional<std::vector<std::string>> day_range(const std::string& from, const std::string& to, std::string& err) {
  const auto a = parse_day(from), b = parse_day(to.empty() ? from : to);
  if (!a || !b) {
    err = "not a date: '" + (a ? to : from) + "' (YYYY-MM-DD or YYYYMMDD)";
    return std::nullopt;
  }
  if (*b < *a) {
    err = "--to " + to + " is before --day " + from;
    return std::nullopt;
  }
  std::vector<std::string> days;
  for (std::time_t t = *a; t <= *b; t += 86400) days.push_back(yyyymmdd(t));
  return days;
}

bool stored_days(hdfs::store& s, std::vector<std::string>& days, std::string& err) {
  hdfs::error e;
  auto sources = s.list("/raw", e);
  if (!sources) {
    if (!e.missing) err = e.message;
    return e.missing;
  }
  std::set<std::string> all;
  for (const auto& src : *sources) {
    if (!src.directory) continue;
    auto list = s.list("/raw/" + src.name, e);
    if (!list) {
      err = e.message;
      return false;
    }
    for (const auto& d : *list)
      if (d.directory && parse_day(d.name)) all.insert(d.name);
  }
  days.assign(all.begin(), all.end());
  return true;
}

bool list_day(hdfs::store& s, const std::string& day, std::vector<raw_file>& files, int& folders, std::string& err) {
  hdfs::error e;
  folders = 0;
  auto sources = s.list("/raw", e);
  if (!sources) {
    if (e.missing) return true;
    err = e.message;
    return false;
  }
  for (const auto& src : *sources) {
    if (!src.directory) continue;
    const std::string dir = "/raw/" + src.name + "/" + day;
    auto list = s.list(dir, e);
    if (!list) {
      if (e.missing) continue;
      err = e.message;
      return false;
    }
    ++folders;
    for (const auto& f : *list)
      if (!f.directory && hdfs::is_record_file(f.name)) files.push_back({dir + "/" + f.name, f.length});
  }
  std::sort(files.begin(), files.end(), [](const auto& x, const auto& y) { return x.path < y.path; });
  return true;
}

bool day_present(hdfs::store& s, const std::string& day, std::string& err) {
  std::vector<raw_file> files;
  int folders = 0;
  return list_day(s, day, files, folders, err) && folders > 0;
}

namespace {

// One file mapped: its pairs as `mapreduce map` prints them. It hands back
// the file's bytes and its pairs as buffers to reuse for the next file.
struct mapped_file {
  bool ok = true;
  std::string err;
  std::string bytes;
  std::string pairs;  // KEY TAB VALUE NEWLINE ...
  std::int64_t records = 0, other_kinds = 0, broken = 0;
  std::vector<std::string> broken_lines;
};

mapped_file map_file(const std::string& path, std::string bytes, std::string pairs,
                     const analyzer::sentiment_scorer* scorer) {
  mapped_file out;
  out.bytes = std::move(bytes);
  out.pairs = std::move(pairs);
  out.pairs.clear();
  mapper m(scorer);
  std::string key, value, why;
  out.pairs.reserve(out.bytes.size() / 3);
  // Zeros after the file's bytes: each of its lines is then followed by
  // simdjson's padding, and parsed where it lies. What follows a line is its
  // newline (or a zero), which ends any token there: a line cut off inside
  // a number or a string stays broken (test
  // a_line_cut_off_inside_a_number_is_broken_and_the_next_line_is_whole).
  const std::size_t size = out.bytes.size();
  out.bytes.append(simdjson::SIMDJSON_PADDING, '\0');
  const char* end = out.bytes.data() + out.bytes.size();
  const std::string_view file(out.bytes.data(), size);
  out.ok = hdfs::for_each_record(
      path, file,
      [&](std::string_view json, std::int64_t n) {
        const bool inside = json.data() >= file.data() && json.data() < end;
        if (!m.map(json, key, value, why, inside ? static_cast<std::size_t>(end - json.data()) : 0)) {
          if (why.empty()) return void(++out.other_kinds);
          if (out.broken_lines.size() < 20) out.broken_lines.push_back(path + ":" + std::to_string(n) + ": " + why);
          return void(++out.broken);
        }
        ++out.records;
        ((out.pairs += key) += '\t') += value;
        out.pairs += '\n';
      },
      out.err);
  return out;
}

// The day's records mapped (files in parallel: the store is read on this
// thread, the mapping runs on others), duplicates dropped, reduced per key
// in file order.
class day_reducer {
 public:
  day_reducer(std::map<std::string, group>& groups, aggregate_report& r) : groups_(groups), r_(r) {}

  void merge(mapped_file& m) {
    r_.records += m.records;
    r_.other_kinds += m.other_kinds;
    r_.broken += m.broken;
    for (auto& b : m.broken_lines)
      if (r_.broken_lines.size() < 20) r_.broken_lines.push_back(std::move(b));
    std::string_view rest = m.pairs;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl + 1);
      const auto tab = line.find('\t');
      const std::string_view key = line.substr(0, tab), value = line.substr(tab + 1);
      if (!seen_.insert(*parse_id(value.substr(0, 32))).second) {
        ++r_.duplicates;
        continue;
      }
      auto it = index_.find(absl::string_view(key.data(), key.size()));
      if (it == index_.end()) {
        group* g = &groups_.try_emplace(std::string(key), key, false).first->second;
        it = index_.emplace(std::string(key), g).first;
      }
      it->second->add(value, true);
    }
  }

 private:
  std::map<std::string, group>& groups_;
  aggregate_report& r_;
  absl::flat_hash_set<id128> seen_;
  absl::flat_hash_map<std::string, group*> index_;
};

bool reduce_day(hdfs::store& s, const std::vector<raw_file>& files, const analyzer::sentiment_scorer* scorer,
                std::map<std::string, group>& groups, aggregate_report& r, std::string& err) {
  const std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
  day_reducer reducer(groups, r);
  std::deque<std::pair<std::string, std::future<mapped_file>>> inflight;  // path, result
  std::vector<std::string> spare;                                         // buffers of files merged, for the next ones
  const auto take = [&] {
    std::string b;
    if (!spare.empty()) b = std::move(spare.back()), spare.pop_back();
    return b;
  };
  std::size_t next = 0;
  for (;;) {
    while (next < files.size() && inflight.size() < workers) {
      const auto& f = files[next++];
      hdfs::error e;
      std::string bytes = take();
      if (!s.read_into(f.path, bytes, e)) {
        err = "cannot read " + f.path + ": " + e.message;
        return false;  // the futures' destructors wait for the files in flight
      }
      // The next file is read from disk while this one is mapped and merged.
      if (next < files.size()) s.prefetch(files[next].path);
      ++r.files;
      r.bytes += static_cast<std::int64_t>(bytes.size());
      inflight.emplace_back(
          f.path, std::async(std::launch::async, [path = f.path, b = std::move(bytes), p = take(), scorer]() mutable {
            return map_file(path, std::move(b), std::move(p), scorer);
          }));
    }
    if (inflight.empty()) return true;
    mapped_file m = inflight.front().second.get();
    inflight.pop_front();
    if (!m.ok) {
      err = m.err;
      return false;
    }
    reducer.merge(m);
    spare.push_back(std::move(m.bytes));
    spare.push_back(std::move(m.pairs));
  }
}

}  // namespace

bool aggregate_day(hdfs::store& s, const std::string& day, const analyzer::sentiment_scorer* scorer,
                   aggregate_report& r, std::string& err) {
  std::vector<raw_file> files;
  int folders = 0;
  if (!list_day(s, day, files, folders, err)) return false;
  if (folders == 0) {
    err = "no /raw/*/" + day + " folder in " + s.describe() + ": nothing was stored for that day";
    return false;
  }
  std::map<std::string, group> groups;
  if (!reduce_day(s, files, scorer, groups, r, err)) return false;
  std::map<std::string, std::string> text;  // kind → file contents
  std::map<std::string, std::int64_t> lines;
  for (auto kind : output_kinds) text[std::string(kind)];
  for (const auto& [key, g] : groups) {
    text[std::string(g.kind())] += g.json() + "\n";
    ++lines[std::string(g.kind())];
  }
  const std::string dir = "/cleaned/" + day;
  const std::string nonce = hdfs::nonce();
  hdfs::error e;
  std::vector<std::string> temps;
  const auto fail = [&](const std::string& what) {
    err = what + ": " + e.message;
    hdfs::error ignored;
    for (const auto& t : temps) s.remove(t, false, ignored);
    return false;
  };
  if (!s.mkdirs(dir, e)) return fail("cannot create " + dir);
  for (const auto& [kind, body] : text) {
    temps.push_back(dir + "/.aggregated_" + kind + ".json." + nonce + ".tmp");
    if (!s.create(temps.back(), body, true, e) || !s.sync(temps.back(), e)) return fail("cannot write " + temps.back());
  }
  // Every temporary file is complete: now each replaces its final name.
  std::size_t i = 0;
  for (const auto& [kind, body] : text) {
    const std::string final_name = dir + "/aggregated_" + kind + ".json";
    if (!s.remove(final_name, false, e) || !s.rename(temps[i], final_name, e))
      return fail("cannot rename " + temps[i] + " to " + final_name);
    r.written.emplace_back(final_name, lines[kind]);
    ++i;
  }
  return true;
}

}  // namespace ctk::batch
