// The lossless stop of `up` (and of `node` on the master): what Ctrl-C or
// SIGTERM does before the children are drained.
//
//  1. The actors that start work by themselves (the registry's `feeds`:
//     scheduler, crawlers) are drained first; their crawls end and their
//     records are produced.
//  2. Every other child's consumer group is watched until it has consumed
//     and committed everything on its input topics (group_backlog), the
//     groups read upstream first in each round (actors::upstream_first),
//     so that a record moving downstream meanwhile is not missed. A group
//     whose upstream groups are done gets SIGUSR1 (once a second while it is
//     behind), so that a sink writes what it holds back (gathered rows, an
//     open file) as soon as its input has caught up, instead of at its next
//     size or age threshold.
//  3. After `timeout` at most (the feeders get as long again to exit),
//     what is left is reported per group, with counts; the caller then
//     drains the rest and stops the broker.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/settings.h"
#include "pipeline/supervisor.h"

namespace ctk::cli {

// Returns the records left unconsumed or uncommitted, summed over groups
// and topics (0: every record reached every store); -1 when the broker
// could not be asked before the timeout. `left_where` ends the report line ("lost with the
// embedded broker", "left in Kafka").
std::int64_t lossless_stop(pipeline::supervisor& sup, const cfg::cluster_settings& s, const std::string& bootstrap,
                           std::chrono::seconds timeout, const std::string& left_where);

}  // namespace ctk::cli
