// What an actor is built from: the loaded configuration and its identity.
// Every actor's factory takes one (actors/registry.h lists the factories);
// it lives here, next to the actor contract, so that an actor's header
// needs pipeline/ only, not the registry of every other actor.
// Lifetime: valid while the factory runs; an actor copies what it keeps.
#pragma once

#include <string>

#include "config/loader.h"

namespace ctk::pipeline {

struct actor_context {
  const cfg::loaded_config& config;
  std::string identity;  // node/actor/instance
};

}  // namespace ctk::pipeline
