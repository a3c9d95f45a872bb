// Manual crawls from outside the crawler: publish crawl commands to the
// control topic and read their reports back. `cointicker crawl` and the
// REST API's crawl action use this one path.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "brokers/kafka.h"
#include "config/loader.h"
#include "messages/envelope.h"

namespace ctk::crawler {

// A reader of the reports topic from its current end: open it before
// publishing, so no report is missed. nullptr with `err`.
std::unique_ptr<kafka::follower> open_report_reader(const cfg::loaded_config& c, const std::string& client_id,
                                                    std::string& err);

// One command per source (reason "manual"); `pending` gets id -> source once
// the broker acknowledged them all.
bool publish_crawls(const cfg::loaded_config& c, const std::string& client_id, const std::vector<std::string>& sources,
                    bool force, std::map<std::string, std::string>& pending, std::string& err);

// Calls on_report for each pending crawl's report as it arrives (removing it
// from `pending`) until none is left, the timeout passes or `stop` is set.
void await_reports(kafka::follower& reader, std::map<std::string, std::string>& pending, int timeout_ms,
                   const std::atomic<bool>& stop, const std::function<void(const msg::crawl_report&)>& on_report);

}  // namespace ctk::crawler
