// What an actor is built from: the loaded configuration, its identity and
// the metrics registry its runner serves (an actor takes its counters and
// gauges from it when it is made).
// Every actor's factory takes one (actors/registry.h lists the factories);
// it lives here, next to the actor contract, so that an actor's header
// needs pipeline/ only, not the registry of every other actor.
// Lifetime: valid while the factory runs; an actor copies what it keeps.
// The registry outlives the actor and the runner (the caller owns it).
#pragma once

#include <string>

#include "config/loader.h"
#include "pipeline/metrics.h"

namespace ctk::pipeline {

struct actor_context {
  const cfg::loaded_config& config;
  std::string identity;  // node/actor/instance
  metrics_registry& metrics;
};

}  // namespace ctk::pipeline
