// ClientCluster: 1 NameServer + 2 broker sets (broker-a, broker-b) as real processes, with
// helpers to create a topic on both brokers and build client options for tests.
// Not thread-safe; one per test.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "mq/client/producer.h"
#include "mq/client/pull_consumer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {

class ClientCluster {
 public:
  ClientCluster() {
    for (const char* name : {"broker-a", "broker-b"}) {
      brokers_.push_back(std::make_unique<BrokerProcess>(
          BrokerOptions{namesrv_.address(),
                        dir_.Sub(name),
                        name,
                        // Short delay levels: a failed message comes back in about a second.
                        {"autoCreateTopicEnable=true", "messageDelayLevel=1s 1s 1s 1s 1s 1s"}}));
    }
  }
  bool Start() {
    if (!namesrv_.started()) return false;
    for (auto& b : brokers_) {
      if (!b->Start()) return false;
    }
    return true;
  }
  BrokerProcess& broker(int i) { return *brokers_[static_cast<size_t>(i)]; }
  NamesrvProcess& namesrv() { return namesrv_; }
  const TempDir& dir() const { return dir_; }

  // Creates topic with `queues` queues on the first `brokers` brokers (both by default) and
  // waits until the route shows them.
  bool CreateTopic(const std::string& topic, int queues = 4, int brokers = 2) {
    for (int i = 0; i < brokers; ++i) {
      mq::v1::CreateTopicRequest req;
      req.mutable_config()->set_topic_name(topic);
      req.mutable_config()->set_read_queue_nums(queues);
      req.mutable_config()->set_write_queue_nums(queues);
      req.mutable_config()->set_perm(6);
      mq::v1::CreateTopicResponse resp;
      grpc::ClientContext ctx;
      if (!brokers_[static_cast<size_t>(i)]->admin()->CreateTopic(&ctx, req, &resp).ok()) return false;
    }
    return WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), topic, &route).ok() && route.queue_datas_size() == brokers;
    });
  }

  mq::client::ClientOptions Client() const {
    mq::client::ClientOptions o;
    o.namesrv_addrs = {namesrv_.address()};
    o.route_refresh_ms = 500;
    o.heartbeat_ms = 1000;
    return o;
  }
  mq::client::ProducerOptions Producer() const {
    mq::client::ProducerOptions o;
    o.client = Client();
    return o;
  }
  // How far `group`'s committed offsets on the brokers are behind the ends of `topic`'s queues
  // (`queues` on each broker), summed; -1 when a broker does not answer. A queue without a
  // committed offset counts from 0.
  int64_t CommittedLag(const std::string& topic, const std::string& group, int queues = 4) {
    int64_t lag = 0;
    for (auto& broker : brokers_) {
      for (int q = 0; q < queues; ++q) {
        mq::v1::GetQueueOffsetsRequest mreq;
        mreq.mutable_queue()->set_topic(topic);
        mreq.mutable_queue()->set_queue_id(q);
        mq::v1::GetQueueOffsetsResponse mresp;
        if (!Call(broker->messaging(), &mq::v1::Messaging::Stub::GetQueueOffsets, mreq, &mresp).ok())
          return -1;
        mq::v1::QueryConsumerOffsetRequest oreq;
        oreq.set_consumer_group(group);
        *oreq.mutable_queue() = mreq.queue();
        mq::v1::QueryConsumerOffsetResponse oresp;
        auto s = Call(broker->messaging(), &mq::v1::Messaging::Stub::QueryConsumerOffset, oreq, &oresp);
        lag += mresp.max_offset() - (s.ok() ? oresp.offset() : 0);
      }
    }
    return lag;
  }

  mq::client::PushConsumerOptions Consumer(const std::string& group) const {
    mq::client::PushConsumerOptions o;
    o.client = Client();
    o.group = group;
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.rebalance_interval_ms = 1000;
    o.commit_interval_ms = 500;
    o.pull_suspend_ms = 3000;
    o.retry_delay_ms = 100;
    o.consume_threads = 4;
    o.offset_dir = dir_.Sub("offsets");
    return o;
  }

 private:
  TempDir dir_;
  NamesrvProcess namesrv_;
  std::vector<std::unique_ptr<BrokerProcess>> brokers_;
};

// Polls `consumer` until `seen` holds at least `n` message bodies; false if 20 s pass first.
inline bool PollUntilSeen(mq::client::PullConsumer& consumer, std::set<std::string>* seen, size_t n) {
  return WaitUntil(
      [&] {
        auto msgs = consumer.Poll(200);
        if (!msgs.ok()) return false;
        for (const auto& m : *msgs) seen->insert(m.message.body);
        return seen->size() >= n;
      },
      std::chrono::seconds(20));
}

}  // namespace mq::testing
