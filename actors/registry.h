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
  // The topology, as the actor's inputs() and outputs() say (`run` checks
  // that they agree): base topic names its group consumes and produces.
  std::vector<std::string> inputs, outputs;
  // Starts work by itself (crawls, timers) rather than from its input: a
  // lossless stop stops these first, then waits for the others to catch up.
  bool feeds = false;
};

// Every actor kind, with `make` empty for one not built yet.
const std::vector<actor_entry>& registry();
const actor_entry* find(const std::string& name);

// `names` ordered so that every actor comes after each actor in `names`
// that produces one of its inputs (validator, dedup, analyzer, then the
// sinks). A cycle (scheduler <-> crawler) keeps registry order. Reading
// the groups' offsets in this order gives a consistent cut: an actor
// commits only what it has delivered, so once its committed offsets are
// at the end, whatever it produced is already below the end its
// downstream groups are read against.
std::vector<std::string> upstream_first(const std::vector<std::string>& names);

}  // namespace ctk::actors
