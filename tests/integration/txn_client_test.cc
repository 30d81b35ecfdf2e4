// TransactionProducer against real mqnamesrv + mqbroker processes: commit delivers exactly
// once, rollback never, UNKNOWN is settled by the checker, a checker that never knows ends in
// TRANS_CHECK_MAX_TIME_TOPIC, and a broker killed (-9) between half and commit resolves the
// transaction by a check after its restart. Short transaction timeouts keep each test within
// a few seconds.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <memory>
#include <string>

#include "broker_fixture.h"
#include "delivery_counter.h"
#include "grpc_test_util.h"
#include "mq/client/push_consumer.h"
#include "mq/client/transaction_producer.h"
#include "namesrv_fixture.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::LocalTransactionState;
using Stub = mq::v1::Messaging::Stub;

class TxnClientTest : public ::testing::Test {
 protected:
  void StartCluster(int check_max = 15, int64_t timeout_ms = 300) {
    ASSERT_TRUE(namesrv_.started());
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(),
                      dir_.Sub("broker-a"),
                      "broker-a",
                      {"transactionTimeOut=" + std::to_string(timeout_ms), "transactionCheckInterval=300",
                       "transactionCheckMax=" + std::to_string(check_max)}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    CreateTopic(*broker_, "TxnTopic", 2);
    ASSERT_TRUE(WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), "TxnTopic", &route).ok();
    }));
  }

  mq::client::TransactionProducerOptions ProducerOptions() {
    mq::client::TransactionProducerOptions o;
    o.producer.client.namesrv_addrs = {namesrv_.address()};
    o.producer.client.route_refresh_ms = 300;
    o.producer.client.heartbeat_ms = 1000;
    o.producer.group = "txn_producer_group";
    o.check_topics = {"TxnTopic"};
    return o;
  }

  // A push consumer counting deliveries of TxnTopic by body.
  std::unique_ptr<mq::client::PushConsumer> StartConsumer(DeliveryCounter* counter) {
    mq::client::PushConsumerOptions o;
    o.client.namesrv_addrs = {namesrv_.address()};
    o.client.route_refresh_ms = 300;
    o.client.heartbeat_ms = 1000;
    o.group = "txn_consumer_group";
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.rebalance_interval_ms = 500;
    o.commit_interval_ms = 500;
    o.pull_suspend_ms = 1000;
    o.offset_dir = dir_.Sub("offsets");
    auto consumer = std::make_unique<mq::client::PushConsumer>(o);
    EXPECT_TRUE(consumer->Subscribe("TxnTopic").ok());
    consumer->RegisterListener([counter](const std::vector<mq::client::ReceivedMessage>& msgs) {
      for (const auto& m : msgs) counter->Add(m.message.body);
      return mq::client::ConsumeResult::kSuccess;
    });
    EXPECT_TRUE(consumer->Start().ok());
    return consumer;
  }

  int64_t MaxOffsetSum(const std::string& topic, int queues) {
    int64_t sum = 0;
    for (int q = 0; q < queues; ++q) {
      mq::v1::GetQueueOffsetsRequest req;
      req.mutable_queue()->set_topic(topic);
      req.mutable_queue()->set_queue_id(q);
      mq::v1::GetQueueOffsetsResponse resp;
      if (!Call(broker_->messaging(), &Stub::GetQueueOffsets, req, &resp).ok()) return -1;
      sum += resp.max_offset();
    }
    return sum;
  }

  TempDir dir_;
  NamesrvProcess namesrv_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(TxnClientTest, CommitDeliversOnceRollbackNever) {
  StartCluster();
  std::atomic<int> checks{0};
  std::atomic<int> control_checks{0};
  mq::client::TransactionProducer producer(
      ProducerOptions(),
      [](const mq::client::Message&, const std::string& txn, const std::string& arg) {
        EXPECT_FALSE(txn.empty());
        if (arg == "unknown") return LocalTransactionState::kUnknown;
        return arg == "commit" ? LocalTransactionState::kCommitMessage
                               : LocalTransactionState::kRollbackMessage;
      },
      [&](const mq::client::ReceivedMessage& msg) {
        if (msg.message.body == "control") {
          ++control_checks;
          return LocalTransactionState::kRollbackMessage;
        }
        ++checks;
        return LocalTransactionState::kUnknown;
      });
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return producer.LiveCheckStreams() == 1; }));
  DeliveryCounter counter;
  auto consumer = StartConsumer(&counter);
  for (int i = 0; i < 10; ++i) {
    auto commit = producer.SendMessageInTransaction(
        mq::client::MakeMessage("TxnTopic", "c" + std::to_string(i)), "commit");
    ASSERT_TRUE(commit.ok()) << commit.status().ToString();
    EXPECT_EQ(commit->local_state, LocalTransactionState::kCommitMessage);
    EXPECT_TRUE(commit->end_status.ok()) << commit->end_status.ToString();
    EXPECT_EQ(commit->transaction_id, commit->send_result.msg_id);
    auto rollback = producer.SendMessageInTransaction(
        mq::client::MakeMessage("TxnTopic", "r" + std::to_string(i)), "rollback");
    ASSERT_TRUE(rollback.ok()) << rollback.status().ToString();
    EXPECT_TRUE(rollback->end_status.ok()) << rollback->end_status.ToString();
  }
  // A last half left UNKNOWN: once it is checked, the check scan has passed every half above,
  // so any check of (or second delivery from) them would have happened by then.
  auto control = producer.SendMessageInTransaction(mq::client::MakeMessage("TxnTopic", "control"), "unknown");
  ASSERT_TRUE(control.ok()) << control.status().ToString();
  ASSERT_TRUE(WaitUntil([&] { return control_checks.load() >= 1; }, 10s));
  ASSERT_TRUE(WaitUntil([&] { return counter.distinct() == 10; }, 15s)) << counter.distinct();
  EXPECT_EQ(checks.load(), 0);
  EXPECT_EQ(MaxOffsetSum("TxnTopic", 2), 10);
  EXPECT_EQ(counter.total(), 10) << counter.Duplicates();
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(counter.Has("r" + std::to_string(i)));
  EXPECT_FALSE(counter.Has("control"));
  // A delayed transactional message is refused without a send.
  auto delayed = mq::client::MakeMessage("TxnTopic", "d");
  delayed.delay_level = 3;
  EXPECT_EQ(producer.SendMessageInTransaction(delayed).status().code(), StatusCode::kInvalidArgument);
  consumer->Shutdown();
  producer.Shutdown();
}

TEST_F(TxnClientTest, UnknownIsCommittedByTheCheck) {
  StartCluster();
  std::atomic<int> checks{0};
  std::atomic<bool> local_committed{false};
  mq::client::TransactionProducer producer(
      ProducerOptions(),
      [](const mq::client::Message&, const std::string&, const std::string&) {
        return LocalTransactionState::kUnknown;
      },
      [&](const mq::client::ReceivedMessage& msg) {
        ++checks;
        EXPECT_EQ(msg.message.topic, "TxnTopic");
        EXPECT_EQ(msg.message.body, "later");
        return local_committed ? LocalTransactionState::kCommitMessage : LocalTransactionState::kUnknown;
      });
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return producer.LiveCheckStreams() == 1; }));
  DeliveryCounter counter;
  auto consumer = StartConsumer(&counter);
  auto r = producer.SendMessageInTransaction(mq::client::MakeMessage("TxnTopic", "later"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->local_state, LocalTransactionState::kUnknown);
  // Checked (UNKNOWN) at least once, not delivered meanwhile.
  ASSERT_TRUE(WaitUntil([&] { return checks.load() >= 1; }, 10s));
  EXPECT_FALSE(counter.Has("later"));
  local_committed = true;
  ASSERT_TRUE(WaitUntil([&] { return counter.Has("later"); }, 10s));
  EXPECT_EQ(MaxOffsetSum("TxnTopic", 2), 1);
  EXPECT_EQ(counter.total(), 1);
  consumer->Shutdown();
  producer.Shutdown();
}

TEST_F(TxnClientTest, TheCheckerMayShutItsProducerDown) {
  // "Stop once this is settled": Shutdown() from the checker (a callback thread the shutdown
  // stops) returns at once and the shutdown goes on beside it; the destructor waits for it.
  StartCluster();
  std::atomic<bool> shut{false};
  std::unique_ptr<mq::client::TransactionProducer> producer;
  producer = std::make_unique<mq::client::TransactionProducer>(
      ProducerOptions(),
      [](const mq::client::Message&, const std::string&, const std::string&) {
        return LocalTransactionState::kUnknown;
      },
      [&](const mq::client::ReceivedMessage&) {
        if (!shut.load()) {
          producer->Shutdown();
          shut = true;
        }
        return LocalTransactionState::kRollbackMessage;
      });
  ASSERT_TRUE(producer->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return producer->LiveCheckStreams() == 1; }));
  auto r = producer->SendMessageInTransaction(mq::client::MakeMessage("TxnTopic", "stop-after-me"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(WaitUntil([&] { return shut.load(); }, 10s));
  producer.reset();
  EXPECT_EQ(MaxOffsetSum("TxnTopic", 2), 0);
}

TEST_F(TxnClientTest, NeverAnsweredEndsInCheckMaxTimeTopic) {
  StartCluster(/*check_max=*/2);
  std::atomic<int> checks{0};
  mq::client::TransactionProducer producer(
      ProducerOptions(),
      [](const mq::client::Message&, const std::string&, const std::string&) {
        return LocalTransactionState::kUnknown;
      },
      [&](const mq::client::ReceivedMessage&) {
        ++checks;
        return LocalTransactionState::kUnknown;
      });
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return producer.LiveCheckStreams() == 1; }));
  auto r = producer.SendMessageInTransaction(mq::client::MakeMessage("TxnTopic", "limbo"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(WaitUntil([&] { return MaxOffsetSum("TRANS_CHECK_MAX_TIME_TOPIC", 1) == 1; }, 10s));
  // The broker may move the message before a slow client has run the second check it was sent.
  ASSERT_TRUE(WaitUntil([&] { return checks.load() >= 2; }, 10s)) << "checks " << checks.load();
  EXPECT_EQ(checks.load(), 2);
  EXPECT_EQ(MaxOffsetSum("TxnTopic", 2), 0);
  producer.Shutdown();
}

TEST_F(TxnClientTest, BrokerKilledBetweenHalfAndCommitIsResolvedByTheCheck) {
  StartCluster();
  std::atomic<int> checks{0};
  BrokerProcess* broker = broker_.get();
  mq::client::TransactionProducer producer(
      ProducerOptions(),
      [broker](const mq::client::Message&, const std::string&, const std::string&) {
        // The half message is stored (and in the page cache); the broker dies before the end.
        broker->process().Signal(SIGKILL);
        broker->process().Wait(10s);
        return LocalTransactionState::kCommitMessage;
      },
      [&](const mq::client::ReceivedMessage& msg) {
        ++checks;
        return msg.message.body == "survivor" ? LocalTransactionState::kCommitMessage
                                              : LocalTransactionState::kRollbackMessage;
      });
  ASSERT_TRUE(producer.Start().ok());
  auto r = producer.SendMessageInTransaction(mq::client::MakeMessage("TxnTopic", "survivor"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->end_status.ok());  // the broker was gone
  ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  DeliveryCounter counter;
  auto consumer = StartConsumer(&counter);
  ASSERT_TRUE(WaitUntil([&] { return counter.Has("survivor"); }, 15s)) << "checks=" << checks.load();
  EXPECT_GE(checks.load(), 1);
  EXPECT_EQ(MaxOffsetSum("TxnTopic", 2), 1);
  EXPECT_EQ(counter.total(), 1);
  consumer->Shutdown();
  producer.Shutdown();
}

TEST_F(TxnClientTest, MqadminListsPendingHalvesOfATopic) {
  StartCluster(/*check_max=*/15, /*timeout_ms=*/60000);  // nothing is checked meanwhile
  auto send_half = [&](const std::string& topic, const std::string& body) {
    mq::v1::SendMessageResponse resp;
    EXPECT_TRUE(
        SendPrepared(broker_->messaging(), "txn_producer_group", topic, TextMessage(body), &resp).ok());
    return resp.entries(0);
  };
  auto pending = send_half("TxnTopic", "p1");
  auto committed = send_half("TxnTopic", "p2");
  send_half("OtherTxnTopic", "p3");
  mq::v1::EndTransactionRequest end;
  end.set_producer_group("txn_producer_group");
  end.set_transaction_id(committed.msg_id());
  end.set_commit_log_offset(committed.commit_log_offset());
  end.set_resolution(mq::v1::TRANSACTION_COMMIT);
  mq::v1::EndTransactionResponse ended;
  ASSERT_TRUE(Call(broker_->messaging(), &Stub::EndTransaction, end, &ended).ok());

  auto run = [&](std::vector<std::string> args) {
    args.push_back("-n");
    args.push_back(namesrv_.address());
    ChildProcess p;
    std::string log = dir_.Sub("mqadmin." + std::to_string(args.size()) + args[0] + ".out");
    EXPECT_TRUE(p.Start(BinaryPath("mqadmin"), args, log));
    auto status = p.Wait(30s);
    int code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    return std::make_pair(code, p.ReadLog());
  };
  ASSERT_TRUE(WaitUntil([&] {
    auto [code, out] = run({"queryTransactionHalf", "-t", "TxnTopic", "--json"});
    return code == 0 && out.find(pending.msg_id()) != std::string::npos;
  }));
  auto [code, out] = run({"queryTransactionHalf", "-t", "TxnTopic", "--json"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out.find(committed.msg_id()), std::string::npos) << out;
  EXPECT_NE(out.find("\"pendingAllTopics\":2"), std::string::npos) << out;
  auto [tcode, table] = run({"queryTransactionHalf", "-t", "TxnTopic"});
  ASSERT_EQ(tcode, 0) << table;
  EXPECT_NE(table.find(pending.msg_id()), std::string::npos) << table;
  EXPECT_NE(table.find("txn_producer_group"), std::string::npos) << table;
  auto [bcode, bad] = run({"queryTransactionHalf", "-t", "TxnTopic", "-m", "0"});
  EXPECT_EQ(bcode, 1) << bad;
  EXPECT_NE(bad.find("max_num"), std::string::npos) << bad;
}

}  // namespace
}  // namespace mq::testing
