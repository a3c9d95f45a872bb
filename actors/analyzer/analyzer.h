// The analyzer actor: unique -> insights (+ analyzer.state). Market records
// become candles and indicators per symbol and interval, news records get
// a sentiment, fear & greed readings and candle closes may raise insights.
// See README.md for what it guarantees.
#pragma once

#include <memory>

#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::analyzer {

std::unique_ptr<pipeline::actor> make_analyzer(const pipeline::actor_context& ctx);

// Problems in the lexicon files that settings name (paths relative to
// config_dir), for `cointicker config check`; empty when they load.
std::vector<std::string> check_lexicons(const cfg::analyzer_settings& s, const std::string& config_dir);

}  // namespace ctk::analyzer
