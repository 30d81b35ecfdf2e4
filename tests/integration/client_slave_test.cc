// Consumers read from a slave when the master is gone (issue 10 item 2): 1 NameServer, a
// SYNC_MASTER and its slave as real processes; the master dies with kill -9 and comes back.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "broker_fixture.h"
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

// Deliveries per body. Thread-safe.
class Bodies {
 public:
  mq::client::MessageListener Listener() {
    return [this](const std::vector<ReceivedMessage>& msgs) {
      std::lock_guard lock(mu_);
      for (const auto& m : msgs) seen_[m.message.body]++;
      return ConsumeResult::kSuccess;
    };
  }
  void Add(const std::string& body) {
    std::lock_guard lock(mu_);
    seen_[body]++;
  }
  size_t distinct() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  int total() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [b, c] : seen_) n += c;
    return n;
  }
  bool Has(const std::string& body) {
    std::lock_guard lock(mu_);
    return seen_.count(body) > 0;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> seen_;
};

class ClientSlaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog();
    master_ = Broker(master_dir_, "SYNC_MASTER", 0);
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

  // Sends [from, to) synchronously; every send must be acknowledged by master and slave.
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
  EXPECT_EQ(push.total(), kN + 50);

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

}  // namespace
}  // namespace mq::testing
