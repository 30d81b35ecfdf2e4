// Node.js SDK producers (normal, FIFO, delay, transactions) against a real broker; what the
// consumer receives is asserted here, from the scenarios' JSON lines.
#include <map>

#include "compat_fixture.h"

namespace mq::testing {
namespace {

class CompatProducerTest : public CompatTest {
 protected:
  void SetUp() override {
    CompatTest::SetUp();
    if (IsSkipped()) return;
    StartCluster();
  }
};

TEST_F(CompatProducerTest, NormalMessagesReachSimpleConsumerExactlyOnce) {
  auto producer = RunOk("producer.js", {"--topic", "CompatNormal", "--count", "20", "--concurrency", "4"});
  auto sent = producer->Ids("sent");
  ASSERT_EQ(sent.size(), 20u);
  auto consumer = RunOk("simple_consumer.js", {"--topic", "CompatNormal", "--group", "GidNormal", "--expect",
                                               "20", "--idle-ms", "1000"});
  EXPECT_EQ(AsSet(consumer->Ids("acked")), AsSet(sent));
  auto received = consumer->Events("received");
  EXPECT_EQ(received.size(), 20u) << consumer->Describe();  // no duplicates during the idle wait
  std::set<std::string> bodies;
  for (const auto& ev : received) {
    EXPECT_EQ(ev.Num("attempt"), 1) << ev.Str("id");
    EXPECT_EQ(ev.Str("topic"), "CompatNormal");
    bodies.insert(ev.Str("body"));
  }
  for (const auto& ev : producer->Events("sent")) EXPECT_TRUE(bodies.count(ev.Str("body"))) << ev.Str("body");
}

TEST_F(CompatProducerTest, FifoMessagesArriveInOrderPerMessageGroup) {
  CreateGroup("GidFifo", /*orderly=*/true);
  auto producer =
      RunOk("producer.js", {"--topic", "CompatFifo", "--mode", "fifo", "--count", "24", "--groups", "3"});
  ASSERT_EQ(producer->Ids("sent").size(), 24u);
  auto consumer =
      RunOk("simple_consumer.js", {"--topic", "CompatFifo", "--group", "GidFifo", "--expect", "24",
                                   "--idle-ms", "500", "--check-fifo", "1", "--batch", "4"});
  std::map<std::string, std::vector<int>> per_group;
  for (const auto& ev : consumer->Events("received")) {
    const std::string body = ev.Str("body");
    const auto colon = body.find(':');
    ASSERT_NE(colon, std::string::npos) << body;
    EXPECT_EQ(ev.Str("group"), body.substr(0, colon));
    per_group[body.substr(0, colon)].push_back(std::stoi(body.substr(colon + 1)));
  }
  ASSERT_EQ(per_group.size(), 3u) << consumer->Describe();
  for (const auto& [group, seqs] : per_group) {
    std::vector<int> want(8);
    for (int i = 0; i < 8; ++i) want[i] = i;
    EXPECT_EQ(seqs, want) << "group " << group;
  }
}

TEST_F(CompatProducerTest, DelayedMessagesAreNotDeliveredEarly) {
  // The consumer is already polling when the messages are sent, so an early delivery would show.
  auto consumer = Launch("simple_consumer.js", {"--topic", "CompatDelay", "--group", "GidDelay", "--expect",
                                                "3", "--check-delay", "1", "--await-ms", "1000"});
  auto producer = RunOk("producer.js",
                        {"--topic", "CompatDelay", "--mode", "delay", "--count", "3", "--delay-ms", "2000"});
  ExpectExitOk(*consumer);
  std::map<std::string, double> due;
  for (const auto& ev : producer->Events("sent")) due[ev.Str("id")] = ev.Num("delivery_ms");
  ASSERT_EQ(due.size(), 3u);
  auto received = consumer->Events("received");
  ASSERT_EQ(received.size(), 3u) << consumer->Describe();
  for (const auto& ev : received) {
    ASSERT_TRUE(due.count(ev.Str("id"))) << ev.Str("id");
    EXPECT_GE(ev.Num("at_ms"), due[ev.Str("id")]) << "delivered before its delivery timestamp";
  }
}

TEST_F(CompatProducerTest, DelayedMessageCarriesItsDeliveryTimestamp) {
  auto producer = RunOk(
      "producer.js", {"--topic", "CompatDelayTs", "--mode", "delay", "--count", "1", "--delay-ms", "1000"});
  auto consumer =
      RunOk("simple_consumer.js", {"--topic", "CompatDelayTs", "--group", "GidDelayTs", "--expect", "1"});
  auto sent = producer->Events("sent");
  auto received = consumer->Events("received");
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(received.size(), 1u) << consumer->Describe();
  EXPECT_EQ(received[0].Num("delivery_ms"), sent[0].Num("delivery_ms"));
}

TEST_F(CompatProducerTest, TransactionCommitIsDeliveredRollbackIsNot) {
  auto commit =
      RunOk("transaction.js", {"--topic", "CompatTx", "--mode", "commit", "--count", "2", "--prefix", "c"});
  auto rollback =
      RunOk("transaction.js", {"--topic", "CompatTx", "--mode", "rollback", "--count", "2", "--prefix", "r"});
  ASSERT_EQ(commit->Events("ended").size(), 2u);
  ASSERT_EQ(rollback->Events("ended").size(), 2u);
  // Rolled-back messages would arrive within the idle window (no check-back may revive them).
  auto consumer = RunOk("simple_consumer.js",
                        {"--topic", "CompatTx", "--group", "GidTx", "--expect", "2", "--idle-ms", "2000"});
  EXPECT_EQ(AsSet(consumer->Ids("received")), AsSet(commit->Ids("sent"))) << consumer->Describe();
  for (const auto& ev : consumer->Events("received")) EXPECT_EQ(ev.Str("body").substr(0, 2), "c-");
}

TEST_F(CompatProducerTest, UnansweredTransactionIsCheckedBackAndCommitted) {
  auto tx = RunOk("transaction.js", {"--topic", "CompatTxCheck", "--mode", "check", "--count", "1"});
  auto checked = tx->Events("checked");
  ASSERT_GE(checked.size(), 1u);
  auto ended = tx->Events("ended");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].Str("source"), "SERVER_CHECK");
  EXPECT_EQ(ended[0].Str("resolution"), "COMMIT");
  auto consumer = RunOk("simple_consumer.js", {"--topic", "CompatTxCheck", "--group", "GidTxCheck",
                                               "--expect", "1", "--idle-ms", "500"});
  EXPECT_EQ(consumer->Ids("received"), tx->Ids("sent")) << consumer->Describe();
}

}  // namespace
}  // namespace mq::testing
