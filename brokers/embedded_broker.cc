#include "brokers/embedded_broker.h"

namespace ctk::kafka {

std::unique_ptr<embedded_broker> embedded_broker::start(const std::string& listen, std::string& err) {
  std::unique_ptr<embedded_broker> b(new embedded_broker());
  // This handle only hosts the mock cluster; it never connects anywhere
  // (log_level 3 hides its "no bootstrap.servers" warning).
  const properties props{{"client.id", "cointicker-embedded-broker"}, {"log_level", "3"}};
  b->rk_ = make_handle(RD_KAFKA_PRODUCER, props, err);
  if (!b->rk_) return nullptr;
  b->cluster_ = rd_kafka_mock_cluster_new(b->rk_.get(), 1);
  if (!b->cluster_) {
    err = "cannot create the mock cluster";
    return nullptr;
  }
  std::string host;
  int port = 0;
  if (!listen.empty()) {
    if (!split_host_port(listen, host, port)) {
      err = "broker listen address is not host:port: '" + listen + "'";
      return nullptr;
    }
    if (port != 0) {
      b->forwarder_ = tcp_forwarder::start(listen, b->mock_bootstrap(), err);
      if (!b->forwarder_) return nullptr;
    }
  }
  return b;
}

embedded_broker::~embedded_broker() {
  forwarder_.reset();
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
}

bool embedded_broker::create_topic(const std::string& name, int partitions, std::string& err) {
  if (auto e = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1)) {
    err = name + ": " + rd_kafka_err2str(e);
    return false;
  }
  return true;
}

std::string embedded_broker::mock_bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

std::string embedded_broker::bootstrap() const { return forwarder_ ? forwarder_->address() : mock_bootstrap(); }

}  // namespace ctk::kafka
