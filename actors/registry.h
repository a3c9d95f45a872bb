// Where actor kinds are registered, once: `cointicker run NAME` and
// `cointicker node` look names up here. A new actor kind adds its entry.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/loader.h"
#include "pipeline/actor.h"

namespace ctk::actors {

struct actor_context {
  const cfg::loaded_config& config;
  std::string identity;  // node/actor/instance
};

struct actor_entry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<pipeline::actor>(const actor_context&)> make;
};

// The actor kinds of DESIGN.md §5, with `make` empty for those not built yet.
const std::vector<actor_entry>& registry();
const actor_entry* find(const std::string& name);

}  // namespace ctk::actors
