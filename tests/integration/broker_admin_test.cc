// The BrokerAdmin service of the real mqbroker.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "broker_fixture.h"
#include "common/file_util.h"
#include "grpc_test_util.h"
#include "testutil/temp_dir.h"

namespace mq::testing {
namespace {

using Stub = mq::v1::Messaging::Stub;
using Admin = mq::v1::BrokerAdmin::Stub;

class BrokerAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(BrokerOptions{"", dir_.path(), "broker-a", {}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  }
  Admin* admin() { return broker_->admin(); }
  Stub* stub() { return broker_->messaging(); }
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(BrokerAdminTest, TopicStatsAndConsumeStats) {
  ASSERT_GRPC_OK(Send(stub(), "Stats", 1, {TextMessage("a"), TextMessage("b"), TextMessage("c")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Stats", 1, 3));
  mq::v1::GetTopicStatsRequest req;
  req.set_topic("Stats");
  mq::v1::GetTopicStatsResponse stats;
  ASSERT_GRPC_OK(Call(admin(), &Admin::GetTopicStats, req, &stats));
  ASSERT_EQ(stats.queues_size(), 4);  // auto-created with the producer default of 4 queues
  EXPECT_EQ(stats.queues(1).max_offset(), 3);
  EXPECT_GT(stats.queues(1).last_update_timestamp(), 0);
  EXPECT_EQ(stats.queues(0).max_offset(), 0);

  mq::v1::UpdateConsumerOffsetRequest commit;
  commit.set_consumer_group("sg");
  commit.mutable_queue()->set_topic("Stats");
  commit.mutable_queue()->set_queue_id(1);
  commit.set_offset(1);
  mq::v1::UpdateConsumerOffsetResponse ignored;
  ASSERT_GRPC_OK(Call(stub(), &Stub::UpdateConsumerOffset, commit, &ignored));
  mq::v1::GetConsumeStatsRequest cs;
  cs.set_group("sg");
  mq::v1::GetConsumeStatsResponse consume;
  ASSERT_GRPC_OK(Call(admin(), &Admin::GetConsumeStats, cs, &consume));
  EXPECT_EQ(consume.total_lag(), 2);
  cs.set_group("unknown_group");
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::GetConsumeStats, cs, &consume), grpc::StatusCode::NOT_FOUND,
                    "group");
}

TEST_F(BrokerAdminTest, QueryMessagesEveryWay) {
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(Send(stub(), "Query", 0, {TextMessage("findme", "T", "order-42")}, &sent));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Query", 0, 1));
  auto query = [&](mq::v1::QueryMessageRequest r) {
    mq::v1::QueryMessageResponse resp;
    auto s = Call(admin(), &Admin::QueryMessage, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  mq::v1::QueryMessageRequest by_offset;
  by_offset.set_offset_msg_id(sent.entries(0).offset_msg_id());
  EXPECT_EQ(query(by_offset).messages(0).message().body(), "findme");
  mq::v1::QueryMessageRequest by_unique;
  by_unique.set_topic("Query");
  by_unique.set_unique_key(sent.entries(0).msg_id());
  EXPECT_EQ(query(by_unique).messages(0).message().body(), "findme");
  mq::v1::QueryMessageRequest by_key;
  by_key.set_topic("Query");
  by_key.set_key("order-42");
  EXPECT_EQ(query(by_key).messages(0).message().body(), "findme");
  mq::v1::QueryMessageRequest by_queue;
  by_queue.set_topic("Query");
  by_queue.mutable_queue_offset()->set_queue_id(0);
  by_queue.mutable_queue_offset()->set_offset(0);
  EXPECT_EQ(query(by_queue).messages(0).msg_id(), sent.entries(0).msg_id());

  mq::v1::QueryMessageResponse resp;
  mq::v1::QueryMessageRequest bad;
  bad.set_offset_msg_id("zz");
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::QueryMessage, bad, &resp), grpc::StatusCode::INVALID_ARGUMENT,
                    "offset_msg_id");
  by_key.set_key("no-such-key");
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::QueryMessage, by_key, &resp), grpc::StatusCode::NOT_FOUND, "key");
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::QueryMessage, mq::v1::QueryMessageRequest(), &resp),
                    grpc::StatusCode::INVALID_ARGUMENT, "by");
}

TEST_F(BrokerAdminTest, ResetOffsetIsSeenByTheNextPull) {
  ASSERT_GRPC_OK(Send(stub(), "Reset", 0, {TextMessage("0"), TextMessage("1"), TextMessage("2")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Reset", 0, 3));
  mq::v1::ResetOffsetRequest reset;
  reset.set_group("rg");
  reset.set_topic("Reset");
  reset.set_timestamp(0);  // everything stored since the epoch: back to the start
  mq::v1::ResetOffsetResponse reset_resp;
  ASSERT_GRPC_OK(Call(admin(), &Admin::ResetOffsetByTimestamp, reset, &reset_resp));
  mq::v1::PullMessageResponse r;
  ASSERT_GRPC_OK(Pull(stub(), "rg", "Reset", 0, 3, &r));
  EXPECT_EQ(r.status(), mq::v1::OFFSET_RESET);
  EXPECT_EQ(r.next_begin_offset(), 0);
  ASSERT_GRPC_OK(Pull(stub(), "rg", "Reset", 0, 0, &r));
  EXPECT_EQ(r.status(), mq::v1::FOUND);
  EXPECT_EQ(r.messages_size(), 3);
}

TEST_F(BrokerAdminTest, RuntimeInfoAndConfig) {
  mq::v1::GetBrokerRuntimeInfoResponse info;
  ASSERT_GRPC_OK(Call(admin(), &Admin::GetBrokerRuntimeInfo, mq::v1::GetBrokerRuntimeInfoRequest(), &info));
  for (const char* key :
       {"brokerVersionDesc", "runtime", "putTps", "commitLogMaxOffset", "brokerRole", "topicCount"}) {
    EXPECT_TRUE(info.table().count(key)) << key;
  }
  mq::v1::GetBrokerConfigResponse config;
  ASSERT_GRPC_OK(Call(admin(), &Admin::GetBrokerConfig, mq::v1::GetBrokerConfigRequest(), &config));
  EXPECT_EQ(config.config().at("brokerName"), "broker-a");

  mq::v1::UpdateBrokerConfigRequest update;
  (*update.mutable_config())["brokerPermission"] = "4";
  mq::v1::UpdateBrokerConfigResponse updated;
  ASSERT_GRPC_OK(Call(admin(), &Admin::UpdateBrokerConfig, update, &updated));
  EXPECT_EQ(updated.config().at("brokerPermission"), "4");
  EXPECT_EQ(updated.config_file(), "");  // started without -c: nothing to write to
  EXPECT_EQ(updated.persist_error(), "");
  EXPECT_GRPC_ERROR(Send(stub(), "ReadOnly", 0, {TextMessage("x")}), grpc::StatusCode::PERMISSION_DENIED,
                    "broker");

  mq::v1::UpdateBrokerConfigRequest bad;
  (*bad.mutable_config())["listenPort"] = "1";
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::UpdateBrokerConfig, bad, &updated),
                    grpc::StatusCode::INVALID_ARGUMENT, "config.listenPort");
  (*bad.mutable_config()).clear();
  (*bad.mutable_config())["brokerPermission"] = "banana";
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::UpdateBrokerConfig, bad, &updated),
                    grpc::StatusCode::INVALID_ARGUMENT, "brokerPermission");
}

// Before: updateBrokerConfig changed the running broker only; a restart took the file's value
// again (a broker set read-only for maintenance took writes after it).
TEST_F(BrokerAdminTest, AConfigUpdateIsWrittenToTheConfigFileAndOutlivesARestart) {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("etc"));
  const std::string conf = dir.Sub("etc/broker.conf");
  ASSERT_TRUE(
      WriteFileAtomically(conf, "# the operator's notes\nbrokerPermission = 6\nslaveReadEnable=false\n")
          .ok());
  BrokerOptions o{"", dir.Sub("b"), "broker-b", {}};
  o.config_file = conf;
  BrokerProcess b(o);
  ASSERT_TRUE(b.Start()) << b.process().ReadLog();

  mq::v1::UpdateBrokerConfigRequest update;
  (*update.mutable_config())["brokerPermission"] = "4";
  mq::v1::UpdateBrokerConfigResponse updated;
  ASSERT_GRPC_OK(Call(b.admin(), &Admin::UpdateBrokerConfig, update, &updated));
  EXPECT_EQ(updated.config_file(), conf);
  EXPECT_EQ(updated.persist_error(), "");
  EXPECT_EQ(*ReadFileToString(conf), "# the operator's notes\nbrokerPermission=4\nslaveReadEnable=false\n");

  ASSERT_EQ(b.Stop(), 0);
  ASSERT_TRUE(b.Start()) << b.process().ReadLog();
  mq::v1::GetBrokerConfigResponse config;
  ASSERT_GRPC_OK(Call(b.admin(), &Admin::GetBrokerConfig, mq::v1::GetBrokerConfigRequest(), &config));
  EXPECT_EQ(config.config().at("brokerPermission"), "4");
  EXPECT_GRPC_ERROR(Send(b.messaging(), "ReadOnly", 0, {TextMessage("x")}),
                    grpc::StatusCode::PERMISSION_DENIED, "broker");

  // A file that cannot be written: the change holds until the next start, and the reply says why.
  std::filesystem::rename(dir.Sub("etc"), dir.Sub("etc.moved"));
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("etc"), "not a directory").ok());
  mq::v1::UpdateBrokerConfigRequest unwritable;
  (*unwritable.mutable_config())["slaveReadEnable"] = "true";
  ASSERT_GRPC_OK(Call(b.admin(), &Admin::UpdateBrokerConfig, unwritable, &updated));
  EXPECT_EQ(updated.config().at("slaveReadEnable"), "true");
  EXPECT_EQ(updated.config_file(), "");
  EXPECT_NE(updated.persist_error().find("broker.conf"), std::string::npos) << updated.persist_error();
}

// Before: deleteTopic removed the config and the offsets only. The queues stayed, so a topic
// re-created with the same name served the deleted messages again, and its new messages went
// on from the old offsets.
TEST_F(BrokerAdminTest, ATopicDeletedAndRecreatedHoldsOnlyItsNewMessagesAcrossARestart) {
  ASSERT_GRPC_OK(Send(stub(), "Reborn", 0, {TextMessage("old1"), TextMessage("old2"), TextMessage("old3")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Reborn", 0, 3));
  mq::v1::DeleteTopicOnBrokerRequest del;
  del.set_topic("Reborn");
  mq::v1::DeleteTopicOnBrokerResponse deleted;
  ASSERT_GRPC_OK(Call(admin(), &Admin::DeleteTopic, del, &deleted));
  EXPECT_TRUE(PullAllBodies(stub(), "Reborn", 0).empty());

  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(Send(stub(), "Reborn", 0, {TextMessage("new1")}, &sent));  // auto-created again
  EXPECT_EQ(sent.queue_offset(), 0);
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Reborn", 0, 1));
  EXPECT_EQ(PullAllBodies(stub(), "Reborn", 0), std::vector<std::string>{"new1"});

  ASSERT_EQ(broker_->Stop(), 0);
  ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  EXPECT_EQ(PullAllBodies(stub(), "Reborn", 0), std::vector<std::string>{"new1"});
  ASSERT_GRPC_OK(Send(stub(), "Reborn", 0, {TextMessage("new2")}, &sent));
  EXPECT_EQ(sent.queue_offset(), 1);

  // The topics the broker keeps its own records in stay.
  for (const char* internal : {"RMQ_SYS_TRANS_HALF_TOPIC", "SCHEDULE_TOPIC_XXXX", "rmq_sys_wheel_timer"}) {
    del.set_topic(internal);
    EXPECT_GRPC_ERROR(Call(admin(), &Admin::DeleteTopic, del, &deleted), grpc::StatusCode::PERMISSION_DENIED,
                      "topic");
  }
}

TEST_F(BrokerAdminTest, TopicAndGroupLifecycleAndConnections) {
  mq::v1::CreateTopicRequest create;
  create.mutable_config()->set_topic_name("Admin");
  create.mutable_config()->set_read_queue_nums(0);
  create.mutable_config()->set_write_queue_nums(8);
  create.mutable_config()->set_perm(6);
  mq::v1::CreateTopicResponse created;
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::CreateTopic, create, &created), grpc::StatusCode::INVALID_ARGUMENT,
                    "read_queue_nums");
  create.mutable_config()->set_read_queue_nums(8);
  ASSERT_GRPC_OK(Call(admin(), &Admin::CreateTopic, create, &created));
  mq::v1::DeleteTopicOnBrokerRequest del;
  del.set_topic("Admin");
  mq::v1::DeleteTopicOnBrokerResponse deleted;
  ASSERT_GRPC_OK(Call(admin(), &Admin::DeleteTopic, del, &deleted));
  EXPECT_GRPC_ERROR(Call(admin(), &Admin::DeleteTopic, del, &deleted), grpc::StatusCode::NOT_FOUND, "topic");

  mq::v1::HeartbeatRequest hb;
  hb.set_client_id("conn-client");
  hb.add_producers()->set_group("pg");
  auto* c = hb.add_consumers();
  c->set_group("cg");
  auto* sub = c->add_subscriptions();
  sub->set_topic("Admin2");
  sub->set_expression("*");
  mq::v1::HeartbeatResponse hb_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::Heartbeat, hb, &hb_resp));
  mq::v1::GetConnectionsRequest conn;
  conn.set_group("cg");
  mq::v1::GetConnectionsResponse conns;
  ASSERT_GRPC_OK(Call(admin(), &Admin::GetConsumerConnections, conn, &conns));
  ASSERT_EQ(conns.connections_size(), 1);
  EXPECT_EQ(conns.connections(0).client_id(), "conn-client");
  conn.set_group("pg");
  ASSERT_GRPC_OK(Call(admin(), &Admin::GetProducerConnections, conn, &conns));
  EXPECT_EQ(conns.connections_size(), 1);

  mq::v1::DeleteSubscriptionGroupRequest del_group;
  del_group.set_group("cg");  // auto-created by the heartbeat
  mq::v1::DeleteSubscriptionGroupResponse del_group_resp;
  ASSERT_GRPC_OK(Call(admin(), &Admin::DeleteSubscriptionGroup, del_group, &del_group_resp));
}

}  // namespace
}  // namespace mq::testing
