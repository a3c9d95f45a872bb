// The validator actor: raw → valid (keyed by record id) | deadletter.
// Rules per kind, normalisation (normalize.h), and the record id computed
// from the normalised natural key. See README.md for every rule.
#pragma once

#include <memory>
#include <string>

#include "messages/envelope.h"
#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::validator {

// The verdict on one raw envelope: either a valid envelope (JSON, id set)
// or a rule name and a reason.
struct result {
  bool ok = false;
  std::string id;    // record id (valid only)
  std::string json;  // the valid envelope
  // What places the record on `valid` (and so on `unique`): the symbol for
  // market records, so that one symbol's records stay in one partition, in
  // order, for the analyzer; pipeline::news_placement_key for news (all
  // news in one partition); empty: the id (the message key) places it.
  std::string partition_key;
  std::string rule;  // failed rule (invalid only)
  std::string reason;
};

// Validates and normalises one raw envelope. `now_ms` bounds "not in the
// far future" (more than a day ahead is refused).
class checker {
 public:
  // The answer is valid until the next call.
  const result& check(std::string_view raw, std::int64_t now_ms);

 private:
  msg::json_decoder decoder_;
  // Reused from record to record (their buffers stay allocated).
  result result_;
  msg::envelope env_;
  msg::market_data market_;
  std::string data_, key_;
  std::string last_url_in_, last_url_out_;  // envelope url → canonical, for the next record of the same page
};

std::unique_ptr<pipeline::actor> make_validator(const pipeline::actor_context& ctx);

}  // namespace ctk::validator
