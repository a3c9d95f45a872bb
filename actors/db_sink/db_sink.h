// db-sink: unique and insights → PostgreSQL. See README.md for what "durable"
// means here and how a sick database is told apart from a bad record.
#pragma once

#include <memory>

#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::db {

std::unique_ptr<pipeline::actor> make_db_sink(const pipeline::actor_context& ctx);

}  // namespace ctk::db
