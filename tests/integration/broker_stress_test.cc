// The embedded broker's fixed bootstrap port under load, as real processes
// and real sockets: hundreds of short-lived clients asking for metadata,
// a producer and a consumer moving data, and three hostile clients (one
// that never reads its replies, one that sends half a request and stalls,
// one that says nothing) at the same time. Every other client is served,
// every message arrives, and SIGTERM still stops the broker promptly.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <set>
#include <thread>

#include "tests/integration/helpers.h"

using namespace ctk::test;
using namespace std::chrono;

namespace {

void put16(std::string& s, int v) {
  s.push_back(static_cast<char>((v >> 8) & 0xff));
  s.push_back(static_cast<char>(v & 0xff));
}
void put32(std::string& s, std::int32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

// A Kafka ApiVersions request (v0): size, api key 18, version 0, correlation id, client id.
std::string api_versions_request(std::int32_t correlation) {
  const std::string client = "wedged";
  std::string body;
  put16(body, 18);
  put16(body, 0);
  put32(body, correlation);
  put16(body, static_cast<int>(client.size()));
  body += client;
  std::string frame;
  put32(frame, static_cast<std::int32_t>(body.size()));
  return frame + body;
}

}  // namespace

TEST(embedded_broker, the_fixed_port_serves_every_client_while_others_stall_never_read_or_come_and_go) {
  const int port = free_port();
  const std::string fixed = "127.0.0.1:" + std::to_string(port);
  auto dir = temp_dir();
  child b({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "broker", "--listen",
           fixed, "--topic", "ctk.stress:8"},
          dir + "/out", dir + "/err");
  ASSERT_TRUE(wait_until([&] { return !b.out().empty() || !b.running(); }, seconds(20))) << b.err();

  // The hostile clients, attached first and kept to the end.
  socket_closer never_reads{connect_loopback(port)};
  ASSERT_GE(never_reads.fd, 0);
  {
    // Thousands of pipelined requests whose replies (megabytes) nobody reads:
    // sent until the socket takes no more, never blocking the test.
    std::string burst;
    for (int i = 0; i < 20000; ++i) burst += api_versions_request(i);
    std::size_t sent = 0;
    while (sent < burst.size()) {
      pollfd pfd{never_reads.fd, POLLOUT, 0};
      if (::poll(&pfd, 1, 2000) <= 0) break;  // the relay stopped taking more: enough
      const ssize_t n = ::send(never_reads.fd, burst.data() + sent, burst.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
    }
    ASSERT_GT(sent, 100000u) << "the forwarder took too little of the burst to test back-pressure";
  }
  socket_closer half_request{connect_loopback(port)};
  ASSERT_GE(half_request.fd, 0);
  {
    std::string half;
    put32(half, 100);  // promises 100 bytes, sends 6
    half += "\x00\x12\x00\x00\x00\x01";
    ASSERT_EQ(::send(half_request.fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
  }
  socket_closer silent{connect_loopback(port)};
  ASSERT_GE(silent.fd, 0);

  // A producer and a consumer bootstrapped through the fixed port, moving
  // data while the short-lived clients come and go.
  constexpr int messages = 20000;
  std::atomic<bool> produced_all{false};
  std::string produce_error;
  std::thread producer([&] {
    std::string err;
    auto p = ctk::kafka::producer::create({{"bootstrap.servers", fixed}}, err);
    if (!p) {
      produce_error = err;
      return;
    }
    for (int i = 0; i < messages; ++i)
      if (!p->produce("ctk.stress", -1, "k" + std::to_string(i), "v" + std::to_string(i), &err)) {
        produce_error = err;
        return;
      }
    if (!p->flush(err)) produce_error = err;
    produced_all = true;
  });
  std::set<std::string> received;
  std::string consume_error;
  std::thread consumer([&] {
    ctk::kafka::partition_reader reader({{"bootstrap.servers", fixed}});
    std::vector<std::int64_t> next(8, RD_KAFKA_OFFSET_BEGINNING);
    const auto deadline = steady_clock::now() + seconds(120);
    while (static_cast<int>(received.size()) < messages && steady_clock::now() < deadline) {
      for (int part = 0; part < 8; ++part) {
        std::string err;
        const auto end = reader.read(
            "ctk.stress", part, next[static_cast<std::size_t>(part)],
            [&](const rd_kafka_message_t& m) { received.insert(std::string(ctk::kafka::payload(m))); }, err);
        if (end < 0) {
          consume_error = err;
          return;
        }
        next[static_cast<std::size_t>(part)] = end;
      }
    }
  });

  // Hundreds of short-lived clients, four at a time: connect, ask for
  // every topic's metadata, disconnect.
  constexpr int threads = 4, per_thread = 75;
  std::atomic<int> served{0}, failed{0};
  std::string first_failure;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        std::string err;
        auto rk = ctk::kafka::make_handle(RD_KAFKA_PRODUCER, {{"bootstrap.servers", fixed}, {"log_level", "0"}}, err);
        const rd_kafka_metadata_t* md = nullptr;
        const auto e = rk ? rd_kafka_metadata(rk.get(), 1, nullptr, &md, 10000) : RD_KAFKA_RESP_ERR__FAIL;
        bool ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt >= 8;
        if (md) rd_kafka_metadata_destroy(md);
        if (ok) {
          ++served;
        } else {
          ++failed;
          std::lock_guard lock(mu);
          if (first_failure.empty()) first_failure = err.empty() ? rd_kafka_err2str(e) : err;
        }
      }
    });
  for (auto& c : clients) c.join();
  producer.join();
  consumer.join();

  EXPECT_EQ(failed.load(), 0) << "first failure: " << first_failure << "\n" << b.err();
  EXPECT_EQ(served.load(), threads * per_thread);
  EXPECT_TRUE(produced_all.load()) << produce_error;
  EXPECT_TRUE(consume_error.empty()) << consume_error;
  EXPECT_EQ(static_cast<int>(received.size()), messages) << "every message arrives";
  // After all that, a new client through the fixed port is still served.
  std::string md;
  EXPECT_EQ(run("kcat -b " + fixed + " -L -t ctk.stress -m 10 2>&1", &md), 0) << md;

  // SIGTERM with the three hostile clients still attached: a prompt, clean exit.
  ASSERT_TRUE(b.running());
  const auto asked = steady_clock::now();
  b.signal(SIGTERM);
  EXPECT_EQ(b.wait(seconds(10)), 0) << b.err();
  EXPECT_LT(duration_cast<milliseconds>(steady_clock::now() - asked).count(), 5000);
}
