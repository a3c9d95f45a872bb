// A Kafka-protocol broker for ONE machine, built on librdkafka's mock
// cluster (rdkafka_mock.h). It keeps data in memory, loses it on exit, and
// is not a production broker. Limits measured on librdkafka 2.0.2: random
// loopback ports, no CreateTopics (topics are created here, through the
// mock API), at most 5 MiB or 100,000 message sets per partition with the
// oldest silently dropped beyond that.
//
// Because the mock cluster picks its own port, `listen` adds a fixed
// bootstrap address: a TCP forwarder to the mock listener. Clients
// bootstrap through it and then connect to the broker address that the
// metadata advertises (the mock's loopback port), so clients must run on
// this machine.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <vector>

#include "brokers/kafka.h"
#include "brokers/tcp_forwarder.h"

namespace ctk::kafka {

class embedded_broker {
 public:
  // listen: "host:port" for the fixed bootstrap address, or "" / port 0 for none.
  static std::unique_ptr<embedded_broker> start(const std::string& listen, std::string& err);
  ~embedded_broker();

  bool create_topic(const std::string& name, int partitions, std::string& err);
  // What clients should use: the fixed address if any, else the mock's own.
  std::string bootstrap() const;
  std::string mock_bootstrap() const;

  // Fault drills (what a Kafka outage does to the pipeline, on one machine):
  // down closes every client connection and refuses new ones until the
  // broker is brought up again; its data is kept.
  void set_down(bool down);
  // The next `count` Produce requests fail with `error` (a Kafka error
  // code such as "TOPIC_AUTHORIZATION_FAILED"); false if the name is unknown.
  bool fail_produce(int count, const std::string& error, std::string& err);

 private:
  embedded_broker() = default;
  handle_ptr rk_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::unique_ptr<tcp_forwarder> forwarder_;
};

}  // namespace ctk::kafka
