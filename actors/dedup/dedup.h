// The dedup actor: valid → unique, each distinct record once.
// See README.md for the checkpoint and rebuild protocol.
#pragma once

#include <memory>

#include "actors/registry.h"
#include "pipeline/actor.h"

namespace ctk::dedup {

std::unique_ptr<pipeline::actor> make_dedup(const actors::actor_context& ctx);

}  // namespace ctk::dedup
