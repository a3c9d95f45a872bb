// The dedup actor: valid → unique, each distinct record once.
// See README.md for the checkpoint and rebuild protocol.
#pragma once

#include <memory>

#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::dedup {

std::unique_ptr<pipeline::actor> make_dedup(const pipeline::actor_context& ctx);

}  // namespace ctk::dedup
