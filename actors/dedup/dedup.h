// The dedup actor: valid → unique, each distinct record once (issue 4).
// See README.md for the checkpoint and rebuild protocol.
#pragma once

#include <memory>

#include "actors/registry.h"
#include "pipeline/actor.h"

namespace ctk::dedup {

std::unique_ptr<pipeline::actor> make_dedup(const actors::actor_context& ctx);

}  // namespace ctk::dedup
