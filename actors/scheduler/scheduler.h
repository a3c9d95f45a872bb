// The scheduler actor (runs on the master): fires crawl commands on each
// source's schedule, never while the source's previous crawl has not
// reported back, and hosts the ZeroMQ control plane's server side. Its
// state is the control and reports topics themselves, read back at start.
// See README.md.
#pragma once

#include <memory>

#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::scheduler {

std::unique_ptr<pipeline::actor> make_scheduler(const pipeline::actor_context& ctx);

}  // namespace ctk::scheduler
