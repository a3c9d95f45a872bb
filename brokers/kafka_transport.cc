#include "brokers/kafka_transport.h"

#include "brokers/kafka_lists.h"

namespace ctk::kafka {

static_assert(offset_beginning == RD_KAFKA_OFFSET_BEGINNING && offset_end == RD_KAFKA_OFFSET_END &&
              offset_invalid == RD_KAFKA_OFFSET_INVALID);

namespace {
polled to_polled(message_ptr m) {
  polled p;
  if (m->rkt) {
    p.topic = rd_kafka_topic_name(m->rkt);
    p.partition = m->partition;
    p.offset = m->offset;
  }
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    p.key = key(*m);
    p.value = payload(*m);
  } else {
    p.what = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF                 ? polled::kind::partition_end
             : m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && m->rkt ? polled::kind::out_of_range
                                                                        : polled::kind::error;
    p.error = rd_kafka_err2str(m->err);
    // An error event's payload is its detail.
    if (m->len > 0) p.error += " (" + std::string(payload(*m)) + ")";
  }
  p.owner = {m.release(), [](void* x) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(x)); }};
  return p;
}
}  // namespace

std::unique_ptr<kafka_transport> kafka_transport::create(const properties& producer_props, properties consumer_props,
                                                         std::string& err) {
  std::unique_ptr<kafka_transport> t(new kafka_transport());
  t->producer_ = producer::create(producer_props, err);
  if (!t->producer_) return nullptr;
  t->consumer_props_ = std::move(consumer_props);
  return t;
}

void kafka_transport::on_delivery(delivery_fn fn) {
  producer_->on_delivery_report([fn = std::move(fn)](std::uint64_t tag, rd_kafka_resp_err_t e) {
    static const std::string acknowledged;
    fn(tag, e ? std::string(rd_kafka_err2str(e)) : acknowledged);
  });
}

bool kafka_transport::subscribe(const std::string& group, const std::vector<std::string>& topics,
                                rebalance_listener* listener, std::string& err) {
  consumer_ = consumer::create(consumer_props_, group, listener, err);
  return consumer_ && consumer_->subscribe(topics, err);
}

std::size_t kafka_transport::poll_batch(int timeout_ms, std::size_t max, std::vector<polled>& out) {
  scratch_.clear();
  const std::size_t n = consumer_->poll_batch(timeout_ms, max, scratch_);
  for (auto& m : scratch_) out.push_back(to_polled(std::move(m)));
  return n;
}

bool kafka_transport::watermarks(const std::string& topic, std::int32_t partition, std::int64_t& low,
                                 std::int64_t& high, std::string& err) {
  if (auto e = query_watermarks(consumer_->raw(), topic, partition, low, high, 5000)) {
    err = "watermarks of " + topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(e);
    return false;
  }
  return true;
}

bool kafka_transport::brokers_down() const {
  return producer_->brokers_down() || (consumer_ && consumer_->brokers_down());
}

bool kafka_transport::probe_brokers(int timeout_ms) {
  // librdkafka keeps reconnecting by itself; a probe only tells when it has.
  return (!producer_->brokers_down() || producer_->probe_brokers(timeout_ms)) &&
         (!consumer_ || !consumer_->brokers_down() || consumer_->probe_brokers(timeout_ms));
}

}  // namespace ctk::kafka
