// The actor loop's transport over Kafka: one idempotent producer and one
// group consumer (kafka.h), with librdkafka's messages and error events
// turned into transport::polled.
// Threading: as kafka.h (one thread polls; acked() from any).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "brokers/kafka.h"
#include "brokers/transport.h"

namespace ctk::kafka {

class kafka_transport final : public transport {
 public:
  // Both property sets complete (bootstrap.servers included); the consumer
  // is made by subscribe(), when its group is known.
  static std::unique_ptr<kafka_transport> create(const properties& producer_props, properties consumer_props,
                                                 std::string& err);

  void on_delivery(delivery_fn fn) override;
  bool prepare(const std::vector<std::string>& topics, int timeout_ms, std::string& err) override {
    return producer_->prepare(topics, timeout_ms, err);
  }
  std::int32_t partition_count(const std::string& topic) const override { return producer_->partition_count(topic); }
  bool produce(const std::string& topic, std::int32_t partition, std::string_view key, std::string_view value,
               std::string& err, std::uint64_t tag, bool& transient) override {
    return producer_->produce(topic, partition, key, value, &err, tag, &transient);
  }
  void serve_deliveries(int timeout_ms) override { producer_->poll(timeout_ms); }
  bool flush(std::string& err) override { return producer_->flush(err); }
  std::uint64_t acked() const override { return producer_->acked(); }

  bool subscribe(const std::string& group, const std::vector<std::string>& topics, rebalance_listener* listener,
                 std::string& err) override;
  std::size_t poll_batch(int timeout_ms, std::size_t max, std::vector<polled>& out) override;
  bool commit(const std::vector<topic_partition>& offsets, std::string& err) override {
    return consumer_->commit(offsets, err);
  }
  bool seek(const std::vector<topic_partition>& to, std::string& err) override { return consumer_->seek(to, err); }
  bool restart_at(const topic_partition& tp, const std::vector<topic_partition>& starts, std::string& err) override {
    return consumer_->restart_at(tp, starts, err);
  }
  void pause(const std::vector<topic_partition>& parts) override { consumer_->pause(parts); }
  void resume(const std::vector<topic_partition>& parts) override { consumer_->resume(parts); }
  void hold(bool on) override { consumer_->hold(on); }
  bool held() const override { return consumer_->held(); }
  std::vector<topic_partition> assignment() const override { return consumer_->assignment(); }
  std::int64_t lag() const override { return consumer_->lag(); }
  bool watermarks(const std::string& topic, std::int32_t partition, std::int64_t& low, std::int64_t& high,
                  std::string& err) override;
  void close() override {
    if (consumer_) consumer_->close();
  }

  bool brokers_down() const override;
  bool probe_brokers(int timeout_ms) override;

 private:
  kafka_transport() = default;
  std::unique_ptr<producer> producer_;
  std::unique_ptr<consumer> consumer_;
  properties consumer_props_;
  std::vector<message_ptr> scratch_;
};

}  // namespace ctk::kafka
