// Loading settings from YAML: every error names file:line:column; unknown
// keys and wrong types are errors, never ignored. Environment variables
// override single keys: CTK_<PATH> with `__` between levels, e.g.
// CTK_KAFKA__BOOTSTRAP=host:9092 or CTK_SOURCES__UPBIT__ENABLED=false.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "config/schema.h"
#include "config/settings.h"

namespace ctk::cfg {

struct config_error {
  std::string file;
  int line = 0;  // 1-based; 0 = no position
  int column = 0;
  std::string message;
  std::string to_string() const;
};

namespace detail {

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class V>
struct is_map<std::map<std::string, V>> : std::true_type {};

struct ctx {
  std::string file;
  std::vector<std::string> path;
  std::vector<config_error>* errors;
  std::vector<config_error>* warnings = nullptr;
  void fail(const YAML::Node& at, std::string msg);
  std::string where() const;
};

bool scalar(const YAML::Node& n, std::string& out, ctx& c);
bool scalar(const YAML::Node& n, int& out, ctx& c);
bool scalar(const YAML::Node& n, std::int64_t& out, ctx& c);
bool scalar(const YAML::Node& n, double& out, ctx& c);
bool scalar(const YAML::Node& n, bool& out, ctx& c);
bool scalar(const YAML::Node& n, duration& out, ctx& c);
std::string suggest(std::string_view key, const std::vector<std::string_view>& known);
// Reads the integer value `n` of a renamed key into `out` and records the
// deprecation warning. False (error recorded) when it is not an integer.
bool renamed_value(const YAML::Node& n, const std::string& old_name, std::string_view new_name, std::int64_t unit_ms,
                   duration& out, ctx& c);

// True when `key` is a renamed key of T (read into its new member).
template <settings_struct T>
bool apply_renamed(const std::string& key, const YAML::Node& n, T& out, ctx& c) {
  if constexpr (has_renamed<T>) {
    bool found = false;
    std::apply(
        [&](const auto&... r) {
          (void)((r.old_name == key
                      ? (found = true, renamed_value(n, key, r.new_name, r.unit_ms, out.*(r.member), c), true)
                      : false) ||
                 ...);
        },
        T::renamed());
    return found;
  } else {
    return false;
  }
}

template <class M>
void decode(const YAML::Node& n, M& out, ctx& c);

template <settings_struct T>
std::vector<std::string_view> key_names() {
  std::vector<std::string_view> v;
  std::apply([&](const auto&... s) { (v.push_back(s.name), ...); }, T::settings());
  return v;
}

template <settings_struct T>
void decode_struct(const YAML::Node& n, T& out, ctx& c) {
  if (n.IsNull()) return;  // `kafka:` with nothing under it keeps the defaults
  if (!n.IsMap()) return c.fail(n, "expected a mapping");
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string key;
    if (!it->first.IsScalar()) {
      c.fail(it->first, "keys must be plain names");
      continue;
    }
    key = it->first.Scalar();
    bool found = false;
    std::apply(
        [&](const auto&... s) {
          (void)((s.name == key ? (found = true, c.path.emplace_back(key), decode(it->second, out.*(s.member), c),
                                   c.path.pop_back(), true)
                                : false) ||
                 ...);
        },
        T::settings());
    if (!found && apply_renamed(key, it->second, out, c)) found = true;
    if (!found) {
      std::string msg = "unknown key '" + key + "'";
      if (!c.path.empty()) msg += " in " + c.where();
      msg += suggest(key, key_names<T>());
      c.fail(it->first, msg);
    }
  }
  if constexpr (checked<T>) {
    if (auto problem = T::check(out)) c.fail(n, *problem);
  }
}

template <class M>
void decode(const YAML::Node& n, M& out, ctx& c) {
  if constexpr (settings_struct<M>) {
    decode_struct(n, out, c);
  } else if constexpr (is_vector<M>::value) {
    if (n.IsNull()) return out.clear();
    if (!n.IsSequence()) return c.fail(n, "expected a list");
    out.clear();
    std::size_t i = 0;
    for (const auto& item : n) {
      c.path.push_back("[" + std::to_string(i++) + "]");
      out.emplace_back();
      decode(item, out.back(), c);
      c.path.pop_back();
    }
  } else if constexpr (is_map<M>::value) {
    if (n.IsNull()) return;
    if (!n.IsMap()) return c.fail(n, "expected a mapping");
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) {
        c.fail(it->first, "keys must be plain names");
        continue;
      }
      const std::string key = it->first.Scalar();
      c.path.push_back(key);
      decode(it->second, out[key], c);  // merges onto an existing entry
      c.path.pop_back();
    }
  } else {
    if (!n.IsScalar()) {
      c.fail(n, "expected a single value, got a " + std::string(n.IsMap()        ? "mapping"
                                                                : n.IsSequence() ? "list"
                                                                                 : "null"));
      return;
    }
    scalar(n, out, c);
  }
}

// Applies `value` (YAML text) at `path` (lower-case key names).
template <class M>
bool apply_path(M& out, const std::vector<std::string>& path, std::size_t i, const YAML::Node& value, ctx& c) {
  if (i == path.size()) {
    decode(value, out, c);
    return true;
  }
  if constexpr (settings_struct<M>) {
    bool found = false;
    std::apply(
        [&](const auto&... s) {
          (void)((s.name == path[i] ? (found = true, c.path.emplace_back(path[i]),
                                       apply_path(out.*(s.member), path, i + 1, value, c), true)
                                    : false) ||
                 ...);
        },
        M::settings());
    if (!found && i + 1 == path.size() && apply_renamed(path[i], value, out, c)) found = true;
    if (!found) c.fail(value, "unknown key '" + path[i] + "'" + suggest(path[i], key_names<M>()));
    return found;
  } else if constexpr (is_map<M>::value) {
    c.path.push_back(path[i]);
    return apply_path(out[path[i]], path, i + 1, value, c);
  } else {
    c.fail(value, "'" + path[i] + "' is below a value that has no keys");
    return false;
  }
}

template <class M>
void reference(std::ostringstream& os, const M& v, int indent);

std::string yaml_scalar(const std::string& s);
inline std::string yaml_scalar(int v) { return std::to_string(v); }
inline std::string yaml_scalar(std::int64_t v) { return std::to_string(v); }
std::string yaml_scalar(double v);
inline std::string yaml_scalar(bool v) { return v ? "true" : "false"; }
inline std::string yaml_scalar(const duration& d) { return yaml_scalar(d.text); }

template <settings_struct T>
void reference_struct(std::ostringstream& os, const T& v, int indent) {
  const std::string pad(indent, ' ');
  std::apply(
      [&](const auto&... s) {
        (([&] {
           using M = std::remove_cvref_t<decltype(v.*(s.member))>;
           const auto& m = v.*(s.member);
           os << pad << "# " << s.help << "\n";
           if constexpr (settings_struct<M>) {
             os << pad << s.name << ":\n";
             reference_struct(os, m, indent + 2);
           } else if constexpr (is_vector<M>::value) {
             using E = typename M::value_type;
             if constexpr (settings_struct<E>) {
               os << pad << s.name << ":\n" << pad << "  - # one entry per item; each takes:\n";
               std::ostringstream inner;
               reference_struct(inner, E{}, indent + 4);
               os << inner.str();
             } else {
               os << pad << s.name << ": [";
               for (std::size_t i = 0; i < m.size(); ++i) os << (i ? ", " : "") << yaml_scalar(m[i]);
               os << "]\n";
             }
           } else if constexpr (is_map<M>::value) {
             using E = typename M::mapped_type;
             if constexpr (settings_struct<E>) {
               os << pad << s.name << ":\n" << pad << "  NAME:   # one entry per name; each takes:\n";
               reference_struct(os, E{}, indent + 4);
             } else {
               os << pad << s.name << ": {}\n";
             }
           } else {
             os << pad << s.name << ": " << yaml_scalar(m) << "\n";
           }
         }()),
         ...);
      },
      T::settings());
}

}  // namespace detail

// Decodes `root` (the parsed YAML of `file`) into `out`. Returns every problem found.
template <settings_struct T>
std::vector<config_error> decode_yaml(const YAML::Node& root, const std::string& file, T& out,
                                      std::vector<config_error>* warnings = nullptr) {
  std::vector<config_error> errors;
  detail::ctx c{file, {}, &errors, warnings};
  detail::decode_struct(root, out, c);
  return errors;
}

namespace detail {
// Runs the checks of every settings struct on `path`, innermost first (an
// override is checked as the file's value would be).
template <class M>
void check_path(const M& v, const std::vector<std::string>& path, std::size_t i, ctx& c) {
  if constexpr (settings_struct<M>) {
    if (i < path.size())
      std::apply(
          [&](const auto&... s) {
            (void)((s.name == path[i] ? (check_path(v.*(s.member), path, i + 1, c), true) : false) || ...);
          },
          M::settings());
    if constexpr (checked<M>) {
      if (auto problem = M::check(v)) c.errors->push_back({c.file, 0, 0, *problem});
    }
  } else if constexpr (is_map<M>::value) {
    if (i < path.size())
      if (auto it = v.find(path[i]); it != v.end()) check_path(it->second, path, i + 1, c);
  }
}

}  // namespace detail

// Applies CTK_* environment overrides whose first segment is a key of T.
template <settings_struct T>
std::vector<config_error> apply_env(T& out, char** envp, std::vector<config_error>* warnings = nullptr) {
  std::vector<config_error> errors;
  std::vector<std::pair<std::string, std::vector<std::string>>> applied;  // variable, key path
  const auto top = detail::key_names<T>();
  for (char** e = envp; e && *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("CTK_")) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(0, eq));
    std::string key = name.substr(4);
    std::vector<std::string> path;
    for (std::size_t pos = 0;;) {
      auto next = key.find("__", pos);
      std::string part = key.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      for (auto& ch : part) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      path.push_back(part);
      if (next == std::string::npos) break;
      pos = next + 2;
    }
    bool ours = false;
    for (auto k : top) ours = ours || k == path[0];
    if (!ours) continue;
    if (name == "CTK_POSTGRES__PASSWORD") continue;  // a secret, read where it is used, never stored here
    detail::ctx c{"environment " + name, {}, &errors, warnings};
    // A value is plain text (a DSN's `#` is not a comment), unless it is a
    // YAML list or mapping ([5m, 1h], {key: value}).
    const std::string text(kv.substr(eq + 1));
    YAML::Node value(text);
    if (text.starts_with('[') || text.starts_with('{')) {
      try {
        value = YAML::Load(text);
      } catch (const YAML::Exception& ex) {
        errors.push_back({c.file, 0, 0, "not a YAML list or mapping: " + ex.msg});
        continue;
      }
    }
    const std::size_t before = errors.size();
    detail::apply_path(out, path, 0, value, c);
    if (errors.size() == before) applied.emplace_back(name, std::move(path));
  }
  // Checked once every override is in (two of them may move a bound together).
  for (const auto& [name, path] : applied) {
    detail::ctx c{"environment " + name, {}, &errors};
    detail::check_path(out, path, 0, c);
  }
  return errors;
}

// The reference file: every key with its default and one line of help.
template <settings_struct T>
std::string reference_yaml(const T& defaults) {
  std::ostringstream os;
  detail::reference_struct(os, defaults, 0);
  return os.str();
}

struct loaded_config {
  cluster_settings cluster;
  sources_settings sources;
  std::string dir;
  std::vector<config_error> warnings;  // e.g. a deprecated key, read under its new name
};

// Loads DIR/cluster.yaml and DIR/sources.yaml (a missing sources.yaml means
// no sources), then the environment. Semantic checks across files too.
std::vector<config_error> load_config(const std::string& dir, loaded_config& out, char** envp);

// Resolves the config folder: --config, else $CTK_CONFIG_DIR, else ./config.
std::string default_config_dir();

}  // namespace ctk::cfg
