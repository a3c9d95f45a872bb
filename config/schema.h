// Declaring settings: each settings struct lists its keys once, with one
// line of help, via `static constexpr auto settings()`. The YAML decoder,
// the environment overrides and the reference file (`cointicker config
// reference`) are all derived from that list.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "config/duration.h"

namespace ctk::cfg {

template <class T, class M>
struct setting_t {
  std::string_view name;
  M T::*member;
  std::string_view help;
};

template <class T, class M>
constexpr setting_t<T, M> setting(std::string_view name, M T::*member, std::string_view help) {
  return {name, member, help};
}

template <class T>
concept settings_struct = requires {
  T::settings();
};

// A duration key that used to be an integer with its unit in its name
// (`timeout_ms: 10000`, `connect_timeout_s: 5`): the old name is still
// read, converted to the duration (`timeout: 10s`), with a deprecation
// warning that names the new spelling. A struct lists them in
// `static constexpr auto renamed()`.
template <class T>
struct renamed_t {
  std::string_view old_name;
  std::string_view new_name;
  duration T::*member;
  std::int64_t unit_ms;  // what one unit of the old integer was: 1 for _ms, 1000 for _s
};

template <class T>
constexpr renamed_t<T> renamed(std::string_view old_name, std::string_view new_name, duration T::*member,
                               std::int64_t unit_ms) {
  return {old_name, new_name, member, unit_ms};
}

template <class T>
concept has_renamed = requires {
  T::renamed();
};

// A struct may also declare `static std::optional<std::string> check(const T&)`
// for rules across keys; its message is reported at the struct's position.
template <class T>
concept checked = requires(const T& t) {
  { T::check(t) } -> std::same_as<std::optional<std::string>>;
};

}  // namespace ctk::cfg
