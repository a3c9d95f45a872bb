// Declaring settings: each settings struct lists its keys once, with one
// line of help, via `static constexpr auto settings()`. The YAML decoder,
// the environment overrides and the reference file (`cointicker config
// reference`) are all derived from that list.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tuple>

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

// A struct may also declare `static std::optional<std::string> check(const T&)`
// for rules across keys; its message is reported at the struct's position.
template <class T>
concept checked = requires(const T& t) {
  { T::check(t) } -> std::same_as<std::optional<std::string>>;
};

}  // namespace ctk::cfg
