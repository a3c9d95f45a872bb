// Where actor kinds are registered, once: `cointicker run NAME` and
// `cointicker node` look names up here. A new actor kind adds its entry.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/loader.h"
#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::actors {

struct actor_entry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<pipeline::actor>(const pipeline::actor_context&)> make;
};

// Every actor kind, with `make` empty for one not built yet.
const std::vector<actor_entry>& registry();
const actor_entry* find(const std::string& name);

}  // namespace ctk::actors
