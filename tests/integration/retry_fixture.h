// RetryMessageTest: a real NameServer and broker with a short messageDelayLevel (every retry
// wait a few seconds), a producer, and helpers for consumers, groups and pulls; Recorder keeps
// what a listener saw. Shared by the retry and send-back integration tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {

inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One delivery as the listener saw it.
struct Delivery {
  std::string topic;
  std::string body;
  int32_t reconsume_times = 0;
  std::string reconsume_time_property;
  int64_t at_ms = 0;  // wall clock
};

// Records deliveries; fails the first `failures` deliveries of each body (-1: always). Thread-safe.
class Recorder {
 public:
  explicit Recorder(int failures) : failures_(failures) {}
  mq::client::MessageListener Listener() {
    return [this](const std::vector<mq::client::ReceivedMessage>& msgs) {
      std::lock_guard lock(mu_);
      bool fail = false;
      for (const auto& m : msgs) {
        Delivery d{m.message.topic, m.message.body, m.reconsume_times, "", WallMs()};
        if (auto it = m.system_properties.find("RECONSUME_TIME"); it != m.system_properties.end()) {
          d.reconsume_time_property = it->second;
        }
        const int n = ++count_[m.message.body];
        if (failures_ < 0 || n <= failures_) fail = true;
        log_.push_back(std::move(d));
      }
      return fail ? mq::client::ConsumeResult::kRetryLater : mq::client::ConsumeResult::kSuccess;
    };
  }
  int count(const std::string& body) {
    std::lock_guard lock(mu_);
    return count_[body];
  }
  std::vector<Delivery> of(const std::string& body) {
    std::lock_guard lock(mu_);
    std::vector<Delivery> out;
    for (const auto& d : log_) {
      if (d.body == body) out.push_back(d);
    }
    return out;
  }

 private:
  const int failures_;
  std::mutex mu_;
  std::map<std::string, int> count_;  // guarded by mu_
  std::vector<Delivery> log_;         // guarded by mu_
};

class RetryMessageTest : public ::testing::Test {
 protected:
  static constexpr const char* kTopic = "RetryTopic";

  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(),
                      dir_.Sub("broker"),
                      "broker-a",
                      {"messageDelayLevel=1s 1s 1s 1s 1s 1s 1s 3s", "flushDelayOffsetInterval=200",
                       "autoCreateTopicEnable=true"}});
    ASSERT_TRUE(namesrv_.started());
    ASSERT_TRUE(broker_->Start());
    CreateTopic(*broker_, kTopic, 2);
    ASSERT_TRUE(WaitForRoute(kTopic));
    mq::client::ProducerOptions o;
    o.client = Client();
    producer_ = std::make_unique<mq::client::Producer>(o);
    ASSERT_TRUE(producer_->Start().ok());
  }
  void TearDown() override {
    producer_.reset();
    // A clean exit: also catches sanitizer reports (leaks, UB) of the broker in ASan builds.
    if (broker_) {
      EXPECT_EQ(broker_->Stop(), 0) << broker_->process().ReadLog().substr(0, 4000);
    }
  }

  bool WaitForRoute(const std::string& topic) {
    return WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), topic, &route).ok() && route.queue_datas_size() == 1;
    });
  }
  mq::client::ClientOptions Client() const {
    mq::client::ClientOptions o;
    o.namesrv_addrs = {namesrv_.address()};
    o.route_refresh_ms = 300;
    o.heartbeat_ms = 500;
    return o;
  }
  mq::client::PushConsumerOptions Consumer(const std::string& group) const {
    mq::client::PushConsumerOptions o;
    o.client = Client();
    o.group = group;
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.rebalance_interval_ms = 300;
    o.commit_interval_ms = 200;
    o.pull_suspend_ms = 2000;
    o.retry_delay_ms = 100;
    o.consume_threads = 2;
    o.offset_dir = dir_.Sub("offsets");
    return o;
  }
  std::unique_ptr<mq::client::PushConsumer> StartConsumer(const mq::client::PushConsumerOptions& o,
                                                          Recorder* r, const std::string& topic = kTopic) {
    auto c = std::make_unique<mq::client::PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic, "*").ok());
    c->RegisterListener(r->Listener());
    EXPECT_TRUE(c->Start().ok());
    return c;
  }
  void SetRetryMaxTimes(const std::string& group, int times, int retry_queue_nums = 1) {
    mq::v1::CreateSubscriptionGroupRequest req;
    auto* g = req.mutable_config();
    g->set_group_name(group);
    g->set_consume_enable(true);
    g->set_consume_broadcast_enable(true);
    g->set_retry_queue_nums(retry_queue_nums);
    g->set_retry_max_times(times);
    g->set_which_broker_when_consume_slowly(1);
    g->set_notify_consumer_ids_changed_enable(true);
    mq::v1::CreateSubscriptionGroupResponse resp;
    grpc::ClientContext ctx;
    auto st = broker_->admin()->CreateSubscriptionGroup(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // Every message of queue 0 of `topic` (e.g. a DLQ), pulled with an admin group.
  std::vector<mq::v1::MessageExt> PullAll(const std::string& topic) {
    mq::v1::PullMessageResponse resp;
    auto st = Pull(broker_->messaging(), "retry-test-admin", topic, 0, 0, &resp);
    if (!st.ok() || resp.status() != mq::v1::FOUND) return {};
    return {resp.messages().begin(), resp.messages().end()};
  }

  TempDir dir_;
  NamesrvProcess namesrv_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<mq::client::Producer> producer_;
};

}  // namespace mq::testing
