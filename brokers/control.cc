#include "brokers/control.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <zmq.hpp>

#include "messages/envelope.h"

namespace ctk::control {

namespace {

using clock_type = std::chrono::steady_clock;

zmq::context_t& context() {
  static zmq::context_t ctx(1);
  return ctx;
}

std::string read_key(const std::string& path, std::string& err) {
  std::ifstream in(path);
  std::string k;
  if (!in || !std::getline(in, k) || k.size() != 40) {
    err = path + ": expected a 40-character Z85 CURVE key";
    return {};
  }
  return k;
}

// CURVE on a client socket (DEALER, SUB, the CLI's DEALER); true without keys.
bool curve_client(zmq::socket_t& s, const cfg::control_settings& c, std::string& err) {
  if (c.curve_dir.empty()) return true;
  const std::string server = read_key(c.curve_dir + "/server.pub", err);
  const std::string pub = read_key(c.curve_dir + "/client.pub", err);
  const std::string sec = read_key(c.curve_dir + "/client.key", err);
  if (server.empty() || pub.empty() || sec.empty()) return false;
  s.set(zmq::sockopt::curve_serverkey, server);
  s.set(zmq::sockopt::curve_publickey, pub);
  s.set(zmq::sockopt::curve_secretkey, sec);
  return true;
}

bool curve_server(zmq::socket_t& s, const cfg::control_settings& c, std::string& err) {
  if (c.curve_dir.empty()) return true;
  const std::string sec = read_key(c.curve_dir + "/server.key", err);
  if (sec.empty()) return false;
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, sec);
  return true;
}

// A sender's routing id for a log line: as it is when printable ASCII (an
// actor's node/actor/instance), else hex (ZeroMQ's own ids are binary).
std::string shown(std::string_view id) {
  if (std::all_of(id.begin(), id.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; }))
    return std::string(id.substr(0, 80));
  std::string hex = "0x";
  for (unsigned char ch : id.substr(0, 32)) hex += fmt::format("{:02x}", ch);
  return id.size() > 32 ? hex + "..." : hex;
}

std::vector<std::string> split_identity(const std::string& id) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  for (;;) {
    auto slash = id.find('/', pos);
    parts.push_back(id.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return parts;
}

bool valid_identity(const std::string& id) {
  auto p = split_identity(id);
  if (p.size() != 3) return false;
  for (const auto& s : p)
    if (s.empty() || s.size() > 64) return false;
  return true;
}

// The "type" of a JSON message, or "" if it is not a JSON object with one.
std::string type_of(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  std::string_view t;
  if (p.parse(json.data(), json.size()).get(e) || e["type"].get_string().get(t)) return {};
  return std::string(t);
}

}  // namespace

bool command::matches(const std::string& identity) const {
  auto p = split_identity(identity);
  if (p.size() != 3) return false;
  return (node.empty() || node == p[0]) && (actor.empty() || actor == p[1]) && (instance.empty() || instance == p[2]);
}

std::string command::check() const {
  static const std::vector<std::string> known{"pause", "resume", "drain", "stop", "reload", "log-level"};
  if (std::find(known.begin(), known.end(), cmd) == known.end())
    return "unknown command '" + cmd.substr(0, 40) + "' (pause, resume, drain, stop, reload, log-level)";
  if (cmd == "log-level") {
    static const std::vector<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (std::find(levels.begin(), levels.end(), arg) == levels.end())
      return "log-level needs one of trace, debug, info, warn, error, critical, off";
  }
  return {};
}

// ---- agent ----------------------------------------------------------------

agent::agent(const cfg::control_settings& s, std::string identity, std::function<snapshot()> snap,
             std::function<void(const command&)> on_command)
    : s_(s), identity_(std::move(identity)), snap_(std::move(snap)), on_command_(std::move(on_command)) {}

agent::~agent() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void agent::start() {
  // The loop sleeps until its next heartbeat or a message; stop() wakes it through this.
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { loop(); });
}

void agent::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

void agent::loop() {
  try {
    zmq::socket_t dealer(context(), zmq::socket_type::dealer);
    zmq::socket_t sub(context(), zmq::socket_type::sub);
    std::string err;
    if (!curve_client(dealer, s_, err) || !curve_client(sub, s_, err)) {
      spdlog::error("control plane: {}; running without it", err);
      return;
    }
    dealer.set(zmq::sockopt::routing_id, identity_);
    dealer.set(zmq::sockopt::immediate, 1);  // no queue towards a scheduler that is not there
    dealer.set(zmq::sockopt::sndhwm, 10);
    dealer.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_control_bytes));
    sub.set(zmq::sockopt::subscribe, "");
    // While the scheduler is away, reconnect attempts back off from 100 ms to
    // 2 s: every actor of a node retrying 10 times a second on both sockets
    // was most of an idle actor's wake-ups.
    for (auto* s : {&dealer, &sub}) s->set(zmq::sockopt::reconnect_ivl_max, 2000);
    dealer.connect(s_.router);
    sub.connect(s_.pub);
    const auto started = clock_type::now();
    auto next = started;
    snapshot prev{};
    auto prev_at = started;
    msg::json_decoder dec;
    for (bool last = false; !last;) {
      last = stopping_.load();  // one more round: the final heartbeat says "stopped"
      // Asleep until the next heartbeat is due, a command arrives or stop() writes the eventfd
      // (without one, a 50 ms slice): an idle actor's thread wakes about once per heartbeat.
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock_type::now());
      zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
      zmq::poll(items, wake_fd_ >= 0 ? 2 : 1,
                last ? std::chrono::milliseconds(0)
                     : std::clamp(wait, std::chrono::milliseconds(0),
                                  std::chrono::milliseconds(wake_fd_ >= 0 ? 60'000 : 50)));
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        if (sub.recv(m, zmq::recv_flags::dontwait)) {
          command c;
          msg::decode_error derr;
          if (m.size() > max_control_bytes) {
            spdlog::warn("control: ignored a {}-byte message (more than {})", m.size(), max_control_bytes);
          } else if (!dec.decode(m.to_string_view(), c, derr) || c.type != "command") {
            spdlog::warn("control: ignored a message that is not a command: {}",
                         derr.what.empty() ? "type " + c.type : derr.to_string());
          } else if (auto problem = c.check(); !problem.empty()) {
            spdlog::warn("control: ignored a command: {}", problem);
          } else if (c.matches(identity_)) {
            spdlog::info("control: {}{}{}", c.cmd, c.arg.empty() ? "" : " ", c.arg);
            on_command_(c);
          }
        }
      }
      const auto now = clock_type::now();
      if (now >= next || last) {
        next = now + s_.heartbeat.value();
        snapshot cur = snap_();
        if (last) cur.state = "stopped";
        const double dt = std::max(1e-3, std::chrono::duration<double>(now - prev_at).count());
        heartbeat hb;
        hb.identity = identity_;
        hb.pid = ::getpid();
        hb.state = cur.state;
        hb.uptime_s = std::chrono::duration<double>(now - started).count();
        hb.consumed_per_s = static_cast<double>(cur.consumed - std::min(cur.consumed, prev.consumed)) / dt;
        hb.produced_per_s = static_cast<double>(cur.produced - std::min(cur.produced, prev.produced)) / dt;
        hb.lag = cur.lag;
        hb.dead_letters = static_cast<std::int64_t>(cur.dead_letters);
        hb.rss_bytes = cur.rss_bytes;
        hb.restarts = cur.restarts;
        hb.metrics_port = cur.metrics_port;
        hb.metrics_port_wanted = cur.metrics_port_wanted;
        hb.stored = std::move(cur.stored);
        hb.node = cur.node;
        hb.sent_ms = msg::utc_now_ms();
        hb.version = CTK_VERSION;
        prev = cur;
        prev_at = now;
        std::string json;
        msg::encode(hb, json);
        (void)dealer.send(zmq::buffer(json), zmq::send_flags::dontwait);  // dropped when nobody listens
      }
    }
  } catch (const zmq::error_t& e) {
    spdlog::error("control plane: {}; the data path goes on without it", e.what());
  }
}

// ---- server ---------------------------------------------------------------

struct server::sockets {
  zmq::socket_t router{context(), zmq::socket_type::router};
  zmq::socket_t pub{context(), zmq::socket_type::pub};
};

server::server(const cfg::control_settings& s) : s_(s), sock_(std::make_unique<sockets>()) {}

server::~server() { stop(); }

bool server::start(std::string& err) {
  try {
    if (!curve_server(sock_->router, s_, err) || !curve_server(sock_->pub, s_, err)) return false;
    if (s_.curve_dir.empty() && (!cfg::loopback_endpoint(s_.router) || !cfg::loopback_endpoint(s_.pub))) {
      if (!s_.insecure) {
        err = "control plane: " + s_.router + " / " + s_.pub +
              " without CURVE keys; set control.curve_dir (`cointicker ctl keygen DIR`) or control.insecure: true";
        return false;
      }
      spdlog::warn(
          "control plane bound to {} / {} without CURVE keys (control.insecure: true): anyone on that network can "
          "send commands",
          s_.router, s_.pub);
    }
    sock_->router.set(zmq::sockopt::linger, 0);
    sock_->router.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(4 * max_control_bytes));
    sock_->pub.set(zmq::sockopt::linger, 0);
    sock_->router.bind(s_.router);
    sock_->pub.bind(s_.pub);
  } catch (const zmq::error_t& e) {
    err = "control plane: cannot bind " + s_.router + " / " + s_.pub + ": " + e.what();
    return false;
  }
  thread_ = std::thread([this] { loop(); });
  return true;
}

void server::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, std::int64_t> server::newest_stored() const {
  std::lock_guard lock(mu_);
  return newest_;
}

void server::on_sources(std::function<std::vector<source_status>()> f) {
  std::lock_guard lock(mu_);
  sources_ = std::move(f);
}

void server::on_jobs(std::function<std::vector<job_status>()> f) {
  std::lock_guard lock(mu_);
  jobs_ = std::move(f);
}

std::vector<node_status> server::nodes() const {
  std::lock_guard lock(mu_);
  const auto now = clock_type::now();
  std::map<std::string, std::pair<node_status, clock_type::time_point>> by_node;
  for (const auto& [id, e] : registry_) {
    const std::string node = id.substr(0, id.find('/'));
    auto& [st, at] = by_node[node];
    st.node = node;
    if (e.dead || e.hb.state == "stopped") continue;
    ++st.instances;
    if (st.instances > 1 && e.last <= at) continue;  // the latest heartbeat of the node speaks for it
    at = e.last;
    st.resources = e.hb.node;
    st.clock_skew_ms = e.hb.sent_ms > 0 ? e.hb.sent_ms - e.received_ms : 0;
    st.last_heartbeat_s = std::chrono::duration<double>(now - e.last).count();
  }
  std::vector<node_status> out;
  for (auto& [n, v] : by_node) out.push_back(std::move(v.first));
  return out;
}

std::vector<instance_status> server::instances() const {
  std::lock_guard lock(mu_);
  std::vector<instance_status> out;
  const auto now = clock_type::now();
  for (const auto& [id, e] : registry_) {
    instance_status st;
    auto p = split_identity(id);
    st.identity = id;
    st.node = p[0];
    st.actor = p[1];
    st.instance = p[2];
    st.pid = e.hb.pid;
    st.state = e.dead ? "dead" : e.hb.state;
    st.consumed_per_s = e.hb.consumed_per_s;
    st.produced_per_s = e.hb.produced_per_s;
    st.lag = e.hb.lag;
    st.dead_letters = e.hb.dead_letters;
    st.rss_bytes = e.hb.rss_bytes;
    st.uptime_s = e.hb.uptime_s;
    st.last_heartbeat_s = std::chrono::duration<double>(now - e.last).count();
    st.restarts = std::max(e.restarts, e.hb.restarts);
    st.version = e.hb.version;
    st.metrics_port = e.hb.metrics_port;
    st.metrics_port_wanted = e.hb.metrics_port_wanted;
    out.push_back(std::move(st));
  }
  return out;
}

void server::loop() {
  msg::json_decoder dec;
  auto& router = sock_->router;
  while (!stopping_) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(100));
    } catch (const zmq::error_t&) {
      continue;
    }
    mark_dead(clock_type::now());
    give_back_memory(clock_type::now());
    flush_warnings(clock_type::now());
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> frames;
    for (;;) {
      zmq::message_t m;
      if (!router.recv(m, zmq::recv_flags::dontwait)) break;
      const bool more = m.more();
      frames.push_back(std::move(m));
      if (!more) break;
    }
    ++messages_since_trim_;
    if (frames.size() < 2) continue;
    const std::string from = frames.front().to_string();
    const auto& body = frames.back();
    if (frames.size() != 2 || body.size() > max_control_bytes) {
      ignored("shape", fmt::format("ignored a message from '{}' ({} frames, {} bytes)", shown(from), frames.size(),
                                   body.size()));
      continue;
    }
    const std::string type = type_of(body.to_string_view());
    if (type == "heartbeat") {
      on_heartbeat(dec, from, body.to_string_view(), clock_type::now());
    } else if (type == "status") {
      status_reply r;
      r.instances = instances();
      r.nodes = nodes();
      std::function<std::vector<source_status>()> sources;
      std::function<std::vector<job_status>()> jobs;
      {
        std::lock_guard lock(mu_);
        sources = sources_;
        jobs = jobs_;
      }
      if (sources) r.sources = sources();
      if (jobs) r.jobs = jobs();
      std::string json;
      msg::encode(r, json);
      reply(from, json);
    } else if (type == "ctl") {
      reply(from, on_ctl(dec, from, body.to_string_view()));
    } else {
      ignored("type",
              fmt::format("ignored a message from '{}' that is not a heartbeat, status or ctl request", shown(from)));
    }
  }
}

void server::ignored(const std::string& kind, const std::string& line) {
  const auto now = clock_type::now();
  warned& w = warned_[kind];
  if (now < w.next) {
    ++w.held_back;
    return;
  }
  spdlog::warn("control: {}", line);
  w = {now + std::chrono::seconds(10), 0};
}

void server::flush_warnings(clock_type::time_point now) {
  for (auto& [kind, w] : warned_)
    if (w.held_back > 0 && now >= w.next) {
      spdlog::warn("control: {} more messages like the last '{}' warning ignored in the last 10 s", w.held_back, kind);
      w = {now + std::chrono::seconds(10), 0};
    }
}

void server::give_back_memory(clock_type::time_point now) {
  if (messages_since_trim_ == 0 || now < next_trim_) return;
  ::malloc_trim(0);
  messages_since_trim_ = 0;
  next_trim_ = now + std::chrono::seconds(10);
}

void server::reply(const std::string& to, const std::string& json) {
  sock_->router.send(zmq::buffer(to), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  sock_->router.send(zmq::buffer(json), zmq::send_flags::dontwait);
}

void server::mark_dead(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto& [id, e] : registry_)
    if (!e.dead && e.hb.state != "stopped" && now - e.last > s_.dead_after.value()) {
      e.dead = true;
      spdlog::warn("control: {} (pid {}) is dead: no heartbeat for {}", id, e.hb.pid, s_.dead_after.text);
    }
}

void server::on_heartbeat(msg::json_decoder& dec, const std::string& from, std::string_view body,
                          std::chrono::steady_clock::time_point now) {
  heartbeat hb;
  msg::decode_error derr;
  if (!dec.decode(body, hb, derr)) {
    ignored("heartbeat", fmt::format("ignored a heartbeat from '{}': {}", shown(from), derr.to_string()));
    return;
  }
  if (!valid_identity(from) || hb.identity != from) {
    ignored("identity",
            fmt::format("ignored a heartbeat from an unknown identity '{}' (says '{}'; expected node/actor/instance)",
                        shown(from), shown(hb.identity)));
    return;
  }
  std::lock_guard lock(mu_);
  if (!registry_.count(from) && registry_.size() >= max_instances) {
    // Bounded: many made-up identities cannot grow it without end. The
    // instance dead the longest makes room; without one, the newcomer waits.
    auto oldest = registry_.end();
    for (auto i = registry_.begin(); i != registry_.end(); ++i)
      if (i->second.dead && (oldest == registry_.end() || i->second.last < oldest->second.last)) oldest = i;
    if (oldest == registry_.end()) {
      ignored("full",
              fmt::format("ignored a heartbeat from '{}': {} instances known already", shown(from), registry_.size()));
      return;
    }
    registry_.erase(oldest);
  }
  auto [it, fresh] = registry_.try_emplace(from);
  auto& e = it->second;
  if (!fresh && e.hb.pid != hb.pid) ++e.restarts;
  for (const auto& m : hb.stored) {
    // Bounded: a hostile heartbeat cannot grow the map without end.
    if (newest_.size() >= 4096 && !newest_.count(m.source)) continue;
    auto& newest = newest_[m.source];
    newest = std::max(newest, m.newest_ms);
  }
  if (fresh)
    spdlog::info("control: {} joined (pid {})", from, hb.pid);
  else if (e.dead)
    spdlog::info("control: {} is back (pid {})", from, hb.pid);
  e.hb = std::move(hb);
  e.last = now;
  e.received_ms = msg::utc_now_ms();
  e.dead = false;
}

std::string server::on_ctl(msg::json_decoder& dec, const std::string& from, std::string_view body) {
  command c;
  msg::decode_error derr;
  const std::string problem = dec.decode(body, c, derr) ? c.check() : derr.to_string();
  ctl_reply r;
  std::string out;
  if (!problem.empty()) {
    ignored("ctl", fmt::format("refused a ctl request from '{}': {}", shown(from), problem));
    r.error = problem;
    if (!msg::encode(r, out)) out = R"({"v":1,"type":"ctl","ok":false,"error":"not valid UTF-8"})";
    return out;
  }
  int matched = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : registry_) matched += !e.dead && c.matches(id);
  }
  c.type = "command";
  std::string json;
  msg::encode(c, json);
  sock_->pub.send(zmq::buffer(json), zmq::send_flags::dontwait);
  spdlog::info("control: {} {} → {} live instance(s) (node '{}', actor '{}', instance '{}')", c.cmd, c.arg, matched,
               c.node, c.actor, c.instance);
  r.ok = true;
  r.matched = matched;
  msg::encode(r, out);
  return out;
}

// ---- CLI ------------------------------------------------------------------

std::string request(const cfg::control_settings& s, const std::string& json, int timeout_ms, std::string& err) {
  try {
    zmq::socket_t dealer(context(), zmq::socket_type::dealer);
    if (!curve_client(dealer, s, err)) return {};
    dealer.set(zmq::sockopt::routing_id, "cli/" + std::to_string(::getpid()) + "/0");
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(s.router);
    dealer.send(zmq::buffer(json), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
    zmq::message_t m;
    if (!(items[0].revents & ZMQ_POLLIN) || !dealer.recv(m, zmq::recv_flags::dontwait)) {
      err = "no answer from the scheduler at " + s.router + " within " + std::to_string(timeout_ms) +
            " ms: start the system with `cointicker up`, or a scheduler with `cointicker run scheduler`";
      return {};
    }
    return m.to_string();
  } catch (const zmq::error_t& e) {
    err = std::string("control plane: ") + e.what();
    return {};
  }
}

bool ask_status(const cfg::control_settings& s, int timeout_ms, status_reply& out, std::string& err) {
  const std::string reply = request(s, R"({"v":1,"type":"status"})", timeout_ms, err);
  if (reply.empty()) return false;
  msg::json_decoder dec;
  msg::decode_error derr;
  if (dec.decode(reply, out, derr)) return true;
  err = "the scheduler answered something unreadable: " + derr.to_string();
  return false;
}

bool keygen(const std::string& dir, std::string& err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (const char* who : {"server", "client"}) {
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0) {
      err = "zmq_curve_keypair failed (libzmq without CURVE support?)";
      return false;
    }
    std::ofstream(dir + "/" + who + ".pub") << pub << "\n";
    const std::string secret = dir + "/" + who + ".key";
    std::ofstream(secret) << sec << "\n";
    std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
  }
  return true;
}

}  // namespace ctk::control
