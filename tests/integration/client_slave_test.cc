// Consumers read from a slave when the master is gone (issue 10 item 2): 1 NameServer, a
// SYNC_MASTER and its slave as real processes; the master dies with kill -9 and comes back.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "broker_fixture.h"
#include "delivery_counter.h"
#include "grpc_test_util.h"
#include "mq/client/producer.h"
#include "mq/client/pull_consumer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::ReceivedMessage;

constexpr char kTopic[] = "SlaveTopic";

// Deliveries per body, counted by a push consumer's listener. Thread-safe.
class Bodies : public DeliveryCounter {
 public:
  mq::client::MessageListener Listener() {
    return [this](const std::vector<ReceivedMessage>& msgs) {
      for (const auto& m : msgs) Add(m.message.body);
      return ConsumeResult::kSuccess;
    };
  }
};

class ClientSlaveTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog(); }

  // A master with master_role and its slave, the topic on both, and a producer.
  void StartCluster(const std::string& master_role) {
    master_ = Broker(master_dir_, master_role, 0);
    ASSERT_TRUE(master_->Start()) << master_->process().ReadLog();
    slave_ = Broker(slave_dir_, "SLAVE", 1);
    ASSERT_TRUE(slave_->Start()) << slave_->process().ReadLog();
    ASSERT_TRUE(WaitSlaveConnected()) << master_->process().ReadLog() << slave_->process().ReadLog();

    mq::v1::CreateTopicRequest req;
    req.mutable_config()->set_topic_name(kTopic);
    req.mutable_config()->set_read_queue_nums(4);
    req.mutable_config()->set_write_queue_nums(4);
    req.mutable_config()->set_perm(6);
    mq::v1::CreateTopicResponse resp;
    ASSERT_GRPC_OK(Call(master_->admin(), &mq::v1::BrokerAdmin::Stub::CreateTopic, req, &resp));
    // The slave copies the topic (metadata sync), and the route shows the queues.
    ASSERT_TRUE(WaitUntil(
        [&] {
          mq::v1::GetTopicConfigRequest g;
          g.set_topic(kTopic);
          mq::v1::GetTopicConfigResponse r;
          return Call(slave_->admin(), &mq::v1::BrokerAdmin::Stub::GetTopicConfig, g, &r).ok() &&
                 r.configs_size() == 1;
        },
        15s));
    ASSERT_TRUE(WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), kTopic, &route).ok() && route.queue_datas_size() == 1;
    }));

    mq::client::ProducerOptions po;
    po.client = Client();
    producer_ = std::make_unique<mq::client::Producer>(po);
    ASSERT_TRUE(producer_->Start().ok());
  }

  std::unique_ptr<BrokerProcess> Broker(const TempDir& dir, const std::string& role, int id) {
    return std::make_unique<BrokerProcess>(BrokerOptions{
        namesrv_.address(),
        dir.path(),
        "broker-a",
        {"brokerRole=" + role, "brokerId=" + std::to_string(id), "haListenPort=0", "syncFlushTimeout=3000"}});
  }

  bool WaitSlaveConnected() {
    return WaitUntil(
        [&] {
          mq::v1::GetBrokerRuntimeInfoResponse resp;
          if (!Call(master_->admin(), &mq::v1::BrokerAdmin::Stub::GetBrokerRuntimeInfo,
                    mq::v1::GetBrokerRuntimeInfoRequest(), &resp)
                   .ok()) {
            return false;
          }
          auto it = resp.table().find("haSlaveCount");
          return it != resp.table().end() && it->second == "1";
        },
        15s);
  }

  // The route shows the master at its current address (after a restart: the new port).
  bool WaitMasterInRoute() {
    return WaitUntil([&] {
      mq::v1::TopicRouteData route;
      if (!QueryRoute(namesrv_.stub(), kTopic, &route).ok()) return false;
      for (const auto& bd : route.broker_datas()) {
        auto it = bd.broker_addrs().find(0);
        if (it != bd.broker_addrs().end() && it->second == master_->address()) return true;
      }
      return false;
    });
  }

  mq::client::ClientOptions Client() const {
    mq::client::ClientOptions o;
    o.namesrv_addrs = {namesrv_.address()};
    o.route_refresh_ms = 500;
    o.heartbeat_ms = 1000;
    return o;
  }

  std::unique_ptr<mq::client::PushConsumer> NewConsumer(const std::string& group, Bodies* bodies) {
    mq::client::PushConsumerOptions o;
    o.client = Client();
    o.group = group;
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.rebalance_interval_ms = 1000;
    o.commit_interval_ms = 500;
    o.pull_suspend_ms = 2000;
    o.consume_threads = 4;
    auto c = std::make_unique<mq::client::PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(kTopic, "*").ok());
    c->RegisterListener(bodies->Listener());
    EXPECT_TRUE(c->Start().ok());
    return c;
  }

  // The committed offsets of group on slave_, summed over the topic's queues.
  int64_t SlaveCommittedSum(const std::string& group) {
    int64_t sum = 0;
    for (int q = 0; q < 4; ++q) {
      mq::v1::QueryConsumerOffsetRequest req;
      req.set_consumer_group(group);
      req.mutable_queue()->set_topic(kTopic);
      req.mutable_queue()->set_queue_id(q);
      mq::v1::QueryConsumerOffsetResponse resp;
      if (Call(slave_->messaging(), &mq::v1::Messaging::Stub::QueryConsumerOffset, req, &resp).ok()) {
        sum += resp.offset();
      }
    }
    return sum;
  }

  // Sends [from, to) synchronously; each must be acknowledged (by the slave too if SYNC_MASTER).
  void SendRange(int from, int to) {
    for (int i = from; i < to; ++i) {
      auto r = producer_->Send(MakeMessage(kTopic, "m" + std::to_string(i)));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->status, mq::client::SendStatus::kSendOk) << i;
    }
  }

  NamesrvProcess namesrv_;
  TempDir master_dir_;
  TempDir slave_dir_;
  std::unique_ptr<BrokerProcess> master_;
  std::unique_ptr<BrokerProcess> slave_;
  std::unique_ptr<mq::client::Producer> producer_;
};

TEST_F(ClientSlaveTest, NewGroupConsumesEverythingFromTheSlaveAfterKillNineAndGoesOnWithoutReplay) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("SYNC_MASTER"));
  constexpr int kN = 200;
  SendRange(0, kN);
  master_->process().Kill();  // the NameServer still lists it: it is unreachable, not absent

  Bodies push;
  auto consumer = NewConsumer("slave_readers", &push);
  ASSERT_TRUE(WaitUntil([&] { return push.distinct() == kN; }, 30s)) << push.distinct();
  EXPECT_EQ(push.total(), kN);

  // The lite pull consumer reads from the slave too.
  mq::client::PullConsumerOptions po;
  po.client = Client();
  po.group = "slave_pullers";
  po.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  mq::client::PullConsumer puller(po);
  ASSERT_TRUE(puller.Start().ok());
  ASSERT_TRUE(puller.Subscribe(kTopic, "*").ok());
  Bodies pulled;
  for (int i = 0; i < 100 && pulled.distinct() < static_cast<size_t>(kN); ++i) {
    auto r = puller.Poll(200);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& m : *r) pulled.Add(m.message.body);
  }
  EXPECT_EQ(pulled.distinct(), static_cast<size_t>(kN));
  EXPECT_EQ(pulled.total(), kN);
  puller.Shutdown();

  // The master comes back (on a new port): the group goes on from where it was, on the master.
  ASSERT_TRUE(master_->Start()) << master_->process().ReadLog();
  ASSERT_TRUE(WaitMasterInRoute());
  ASSERT_TRUE(WaitSlaveConnected());
  SendRange(kN, kN + 50);
  ASSERT_TRUE(WaitUntil([&] { return push.distinct() == kN + 50; }, 30s)) << push.distinct();
  EXPECT_EQ(push.total(), kN + 50) << "delivered twice: " << push.Duplicates();

  // Offsets committed on the slave and on the master add up: a restarted member replays nothing.
  consumer->Shutdown();
  consumer.reset();
  Bodies after;
  consumer = NewConsumer("slave_readers", &after);
  SendRange(kN + 50, kN + 60);
  ASSERT_TRUE(WaitUntil([&] { return after.distinct() == 10; }, 30s)) << after.distinct();
  EXPECT_EQ(after.total(), 10);
  EXPECT_TRUE(after.Has("m" + std::to_string(kN + 59)));
  EXPECT_EQ(push.total(), kN + 50);
}

// An ASYNC_MASTER's slave may lack the newest messages when the master dies. A consumer that
// already consumed them must keep its position on the slave (whose "offset illegal" answer
// would rewind it to 0) and go on from there when the master returns: nothing is replayed.
TEST_F(ClientSlaveTest, FailoverToALaggingSlaveKeepsThePosition) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("ASYNC_MASTER"));
  Bodies bodies;
  auto consumer = NewConsumer("lag_readers", &bodies);
  SendRange(0, 100);
  ASSERT_TRUE(WaitUntil([&] { return bodies.distinct() == 100; }, 30s)) << bodies.distinct();

  // The slave stops; the master takes 100 more, which the consumer reads from the master.
  ASSERT_EQ(slave_->Stop(), 0);
  SendRange(100, 200);
  ASSERT_TRUE(WaitUntil([&] { return bodies.distinct() == 200; }, 30s)) << bodies.distinct();

  // The master dies; the slave comes back without the last 100. The consumer moves to the slave
  // and commits its own position there (200 in all), not the slave's correction.
  master_->process().Kill();
  ASSERT_TRUE(slave_->Start()) << slave_->process().ReadLog();
  ASSERT_TRUE(WaitUntil([&] { return SlaveCommittedSum("lag_readers") == 200; }, 30s))
      << SlaveCommittedSum("lag_readers");
  EXPECT_EQ(bodies.total(), 200);

  // The master returns: the group goes on from 200 there.
  ASSERT_TRUE(master_->Start()) << master_->process().ReadLog();
  ASSERT_TRUE(WaitMasterInRoute());
  SendRange(200, 210);
  ASSERT_TRUE(WaitUntil([&] { return bodies.distinct() == 210; }, 30s)) << bodies.distinct();
  EXPECT_EQ(bodies.total(), 210);
}

}  // namespace
}  // namespace mq::testing
