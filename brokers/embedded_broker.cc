#include "brokers/embedded_broker.h"

#include <vector>

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

void embedded_broker::set_down(bool down) {
  if (down)
    rd_kafka_mock_broker_set_down(cluster_, -1);
  else
    rd_kafka_mock_broker_set_up(cluster_, -1);
}

bool embedded_broker::fail_produce(int count, const std::string& error, std::string& err) {
  const rd_kafka_err_desc* descs = nullptr;
  size_t n = 0;
  rd_kafka_get_err_descs(&descs, &n);
  for (size_t i = 0; i < n; ++i)
    if (descs[i].name && error == descs[i].name) {
      const std::vector<rd_kafka_resp_err_t> errors(static_cast<std::size_t>(count), descs[i].code);
      rd_kafka_mock_push_request_errors_array(cluster_, 0 /* Produce */, errors.size(), errors.data());
      return true;
    }
  err = "unknown Kafka error name '" + error + "'";
  return false;
}

std::string embedded_broker::mock_bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

std::string embedded_broker::bootstrap() const { return forwarder_ ? forwarder_->address() : mock_bootstrap(); }

}  // namespace ctk::kafka
