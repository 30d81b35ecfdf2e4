// Transactional messages on a real mqbroker, driven through the generated stubs: half messages
// are invisible, EndTransaction commits exactly once or rolls back, second ends are idempotent
// or refused, bad input names the field, and a half message nobody answers for ends in
// TRANS_CHECK_MAX_TIME_TOPIC after transactionCheckMax checks.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using Stub = mq::v1::Messaging::Stub;

constexpr char kGroup[] = "txn_group";

class TxnBrokerTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> sets = {}) {
    broker_ = std::make_unique<BrokerProcess>(BrokerOptions{"", dir_.path(), "broker-a", std::move(sets)});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  }
  Stub* stub() { return broker_->messaging(); }

  grpc::Status SendHalf(const std::string& topic, const mq::v1::Message& m, mq::v1::SendMessageResponse* resp,
                        const std::string& group = kGroup) {
    return SendPrepared(stub(), group, topic, m, resp);
  }
  grpc::Status End(const std::string& txn, int64_t offset, mq::v1::TransactionResolution resolution,
                   mq::v1::EndTransactionResponse* resp = nullptr, const std::string& group = kGroup) {
    mq::v1::EndTransactionRequest req;
    req.set_producer_group(group);
    req.set_transaction_id(txn);
    req.set_commit_log_offset(offset);
    req.set_resolution(resolution);
    mq::v1::EndTransactionResponse local;
    return Call(stub(), &Stub::EndTransaction, req, resp ? resp : &local);
  }
  int64_t MaxOffset(const std::string& topic, int32_t queue = 0) {
    mq::v1::GetQueueOffsetsRequest req;
    req.mutable_queue()->set_topic(topic);
    req.mutable_queue()->set_queue_id(queue);
    mq::v1::GetQueueOffsetsResponse resp;
    if (!Call(stub(), &Stub::GetQueueOffsets, req, &resp).ok()) return -1;
    return resp.max_offset();
  }
  mq::v1::QueryTransactionHalfResponse Pending(const std::string& topic) {
    mq::v1::QueryTransactionHalfRequest req;
    req.set_topic(topic);
    mq::v1::QueryTransactionHalfResponse resp;
    EXPECT_TRUE(Call(stub(), &Stub::QueryTransactionHalf, req, &resp).ok());
    return resp;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(TxnBrokerTest, HalfIsInvisibleAndCommitDeliversExactlyOnce) {
  StartBroker();
  CreateTopic(*broker_, "TxnT", 1);
  mq::v1::Message m = TextMessage("order-1", "TagA", "k1");
  (*m.mutable_user_properties())["biz"] = "42";
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(SendHalf("TxnT", m, &sent));
  ASSERT_EQ(sent.entries_size(), 1);
  const std::string txn = sent.entries(0).msg_id();
  const int64_t half_offset = sent.entries(0).commit_log_offset();

  // Not on the real topic, and the half topic cannot be pulled.
  ASSERT_TRUE(WaitUntil([&] { return Pending("TxnT").halves_size() == 1; }));
  EXPECT_EQ(MaxOffset("TxnT"), 0);
  mq::v1::PullMessageResponse pulled;
  EXPECT_EQ(Pull(stub(), "cg", "RMQ_SYS_TRANS_HALF_TOPIC", 0, 0, &pulled).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto pending = Pending("TxnT");
  EXPECT_EQ(pending.halves(0).transaction_id(), txn);
  EXPECT_EQ(pending.halves(0).producer_group(), kGroup);
  EXPECT_EQ(pending.halves(0).check_times(), 0);
  EXPECT_EQ(Pending("OtherTopic").halves_size(), 0);

  mq::v1::EndTransactionResponse ended;
  ASSERT_GRPC_OK(End(txn, half_offset, mq::v1::TRANSACTION_COMMIT, &ended));
  EXPECT_FALSE(ended.duplicate());
  EXPECT_EQ(ended.msg_id(), txn);
  ASSERT_TRUE(WaitForMaxOffset(stub(), "TxnT", 0, 1));
  ASSERT_GRPC_OK(Pull(stub(), "cg", "TxnT", 0, 0, &pulled));
  ASSERT_EQ(pulled.messages_size(), 1);
  const auto& got = pulled.messages(0);
  EXPECT_EQ(got.message().body(), "order-1");
  EXPECT_EQ(got.message().tags(), "TagA");
  EXPECT_EQ(got.msg_id(), txn);
  EXPECT_EQ(got.message().user_properties().at("biz"), "42");
  EXPECT_EQ(got.system_properties().count("REAL_TOPIC"), 0u);
  EXPECT_EQ(got.system_properties().at("TRAN_MSG"), "true");
  EXPECT_EQ(got.sys_flag() & 0xC, 0x8);  // TRANSACTION_COMMIT_TYPE
  // Tag filtering works on the committed message (its tags code is the real one).
  ASSERT_GRPC_OK(Pull(stub(), "cg2", "TxnT", 0, 0, &pulled, 0, "TagB"));
  EXPECT_EQ(pulled.messages_size(), 0);

  // The same end again is idempotent; the opposite one is refused; nothing more is delivered.
  ASSERT_GRPC_OK(End(txn, half_offset, mq::v1::TRANSACTION_COMMIT, &ended));
  EXPECT_TRUE(ended.duplicate());
  EXPECT_GRPC_ERROR(End(txn, half_offset, mq::v1::TRANSACTION_ROLLBACK),
                    grpc::StatusCode::FAILED_PRECONDITION, "transaction_id");
  EXPECT_EQ(MaxOffset("TxnT"), 1);
  EXPECT_EQ(Pending("TxnT").halves_size(), 0);
}

TEST_F(TxnBrokerTest, RollbackNeverDeliversAndSurvivesRestart) {
  StartBroker({"transactionTimeOut=300", "transactionCheckInterval=300", "transactionCheckMax=3"});
  CreateTopic(*broker_, "TxnR", 1);
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(SendHalf("TxnR", TextMessage("rolled-back"), &sent));
  const std::string txn = sent.entries(0).msg_id();
  const int64_t half_offset = sent.entries(0).commit_log_offset();
  ASSERT_GRPC_OK(End(txn, half_offset, mq::v1::TRANSACTION_ROLLBACK));
  EXPECT_GRPC_ERROR(End(txn, half_offset, mq::v1::TRANSACTION_COMMIT), grpc::StatusCode::FAILED_PRECONDITION,
                    "transaction_id");
  // Restart: the op is read back, so the rolled-back half is neither checked nor delivered,
  // and never reaches TRANS_CHECK_MAX_TIME_TOPIC.
  ASSERT_EQ(broker_->Stop(), 0);
  ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  EXPECT_GRPC_ERROR(End(txn, half_offset, mq::v1::TRANSACTION_COMMIT), grpc::StatusCode::FAILED_PRECONDITION,
                    "transaction_id");
  // A control half with no producer: its arrival in TRANS_CHECK_MAX_TIME_TOPIC shows the scan
  // went past the rolled-back one.
  ASSERT_GRPC_OK(SendHalf("TxnR", TextMessage("control"), &sent));
  ASSERT_TRUE(WaitUntil([&] { return MaxOffset("TRANS_CHECK_MAX_TIME_TOPIC") == 1; }, 15s));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(stub(), "cg", "TRANS_CHECK_MAX_TIME_TOPIC", 0, 0, &pulled));
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).message().body(), "control");
  EXPECT_EQ(MaxOffset("TxnR"), 0);
}

TEST_F(TxnBrokerTest, UnansweredHalfEndsInCheckMaxTimeTopic) {
  StartBroker({"transactionTimeOut=200", "transactionCheckInterval=200", "transactionCheckMax=2"});
  CreateTopic(*broker_, "TxnM", 1);
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(SendHalf("TxnM", TextMessage("nobody-answers"), &sent));
  const std::string txn = sent.entries(0).msg_id();
  // Checked (no live producer: counted anyway) twice, then moved.
  ASSERT_TRUE(WaitUntil([&] { return MaxOffset("TRANS_CHECK_MAX_TIME_TOPIC") == 1; }, 10s));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(stub(), "cg", "TRANS_CHECK_MAX_TIME_TOPIC", 0, 0, &pulled));
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).msg_id(), txn);
  EXPECT_EQ(pulled.messages(0).system_properties().at("REAL_TOPIC"), "TxnM");
  EXPECT_EQ(pulled.messages(0).message().user_properties().at("TRANSACTION_CHECK_TIMES"), "2");
  EXPECT_EQ(MaxOffset("TxnM"), 0);
  EXPECT_EQ(Pending("TxnM").halves_size(), 0);
  // A late commit of a discarded transaction is refused.
  EXPECT_GRPC_ERROR(End(txn, sent.entries(0).commit_log_offset(), mq::v1::TRANSACTION_COMMIT),
                    grpc::StatusCode::FAILED_PRECONDITION, "transaction_id");
}

TEST_F(TxnBrokerTest, CheckStreamGetsChecksUntilAnswered) {
  StartBroker({"transactionTimeOut=200", "transactionCheckInterval=200", "transactionCheckMax=15"});
  CreateTopic(*broker_, "TxnC", 1);
  grpc::ClientContext ctx;
  mq::v1::TransactionCheckStreamRequest open;
  open.set_client_id("test-client");
  open.set_producer_group(kGroup);
  auto reader = stub()->TransactionCheckStream(&ctx, open);
  reader->WaitForInitialMetadata();
  mq::v1::SendMessageResponse sent;
  mq::v1::Message m = TextMessage("checked");
  (*m.mutable_user_properties())["CHECK_IMMUNITY_TIME_IN_SECONDS"] = "1";
  const auto sent_at = std::chrono::steady_clock::now();
  ASSERT_GRPC_OK(SendHalf("TxnC", m, &sent));
  mq::v1::TransactionCheck check;
  ASSERT_TRUE(reader->Read(&check));
  // CHECK_IMMUNITY_TIME_IN_SECONDS overrides transactionTimeOut for the first check.
  EXPECT_GE(std::chrono::steady_clock::now() - sent_at, 900ms);
  EXPECT_EQ(check.transaction_id(), sent.entries(0).msg_id());
  EXPECT_EQ(check.check_times(), 1);
  EXPECT_EQ(check.message().message().topic(), "TxnC");
  EXPECT_EQ(check.message().message().body(), "checked");
  ASSERT_TRUE(reader->Read(&check));
  EXPECT_EQ(check.check_times(), 2);
  mq::v1::EndTransactionRequest end;
  end.set_producer_group(kGroup);
  end.set_transaction_id(check.transaction_id());
  end.set_commit_log_offset(check.commit_log_offset());
  end.set_resolution(mq::v1::TRANSACTION_COMMIT);
  end.set_from_check(true);
  mq::v1::EndTransactionResponse ended;
  ASSERT_GRPC_OK(Call(stub(), &Stub::EndTransaction, end, &ended));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "TxnC", 0, 1));
  // The original half offset names the same transaction: a duplicate, not a second message.
  ASSERT_GRPC_OK(
      End(check.transaction_id(), sent.entries(0).commit_log_offset(), mq::v1::TRANSACTION_COMMIT, &ended));
  EXPECT_TRUE(ended.duplicate());
  EXPECT_EQ(MaxOffset("TxnC"), 1);
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(TxnBrokerTest, BadInputNamesTheField) {
  StartBroker();
  CreateTopic(*broker_, "TxnB", 1);
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(SendHalf("TxnB", TextMessage("x"), &sent));
  const std::string txn = sent.entries(0).msg_id();
  const int64_t off = sent.entries(0).commit_log_offset();
  using grpc::StatusCode;
  EXPECT_GRPC_ERROR(End(txn, off, mq::v1::TRANSACTION_COMMIT, nullptr, ""), StatusCode::INVALID_ARGUMENT,
                    "producer_group");
  EXPECT_GRPC_ERROR(End(txn, off, mq::v1::TRANSACTION_COMMIT, nullptr, "other_group"),
                    StatusCode::INVALID_ARGUMENT, "producer_group");
  EXPECT_GRPC_ERROR(End("", off, mq::v1::TRANSACTION_COMMIT), StatusCode::INVALID_ARGUMENT, "transaction_id");
  EXPECT_GRPC_ERROR(End("NOT-THE-ID", off, mq::v1::TRANSACTION_COMMIT), StatusCode::INVALID_ARGUMENT,
                    "transaction_id");
  EXPECT_GRPC_ERROR(End(txn, -1, mq::v1::TRANSACTION_COMMIT), StatusCode::INVALID_ARGUMENT,
                    "commit_log_offset");
  EXPECT_GRPC_ERROR(End(txn, off + 1, mq::v1::TRANSACTION_COMMIT), StatusCode::NOT_FOUND,
                    "commit_log_offset");
  EXPECT_GRPC_ERROR(End(txn, 1LL << 40, mq::v1::TRANSACTION_COMMIT), StatusCode::NOT_FOUND,
                    "commit_log_offset");
  EXPECT_GRPC_ERROR(End(txn, off, static_cast<mq::v1::TransactionResolution>(7)),
                    StatusCode::INVALID_ARGUMENT, "resolution");
  // An ordinary message is not a half message.
  mq::v1::SendMessageResponse plain;
  ASSERT_GRPC_OK(Send(stub(), "TxnB", 0, {TextMessage("plain")}, &plain));
  EXPECT_GRPC_ERROR(
      End(plain.entries(0).msg_id(), plain.entries(0).commit_log_offset(), mq::v1::TRANSACTION_COMMIT),
      StatusCode::INVALID_ARGUMENT, "commit_log_offset");
  // UNKNOWN records nothing.
  ASSERT_GRPC_OK(End(txn, off, mq::v1::TRANSACTION_UNKNOWN));
  // Prepared sends: one message, with a group; the transaction topics cannot be written.
  mq::v1::SendMessageRequest req;
  req.set_topic("TxnB");
  req.set_transaction_prepared(true);
  *req.add_messages() = TextMessage("a");
  mq::v1::SendMessageResponse resp;
  EXPECT_GRPC_ERROR(Call(stub(), &Stub::SendMessage, req, &resp), StatusCode::INVALID_ARGUMENT,
                    "producer_group");
  req.set_producer_group(kGroup);
  *req.add_messages() = TextMessage("b");
  EXPECT_GRPC_ERROR(Call(stub(), &Stub::SendMessage, req, &resp), StatusCode::INVALID_ARGUMENT, "messages");
  EXPECT_GRPC_ERROR(Send(stub(), "RMQ_SYS_TRANS_HALF_TOPIC", 0, {TextMessage("x")}),
                    StatusCode::INVALID_ARGUMENT, "topic");
  EXPECT_GRPC_ERROR(Send(stub(), "RMQ_SYS_TRANS_OP_HALF_TOPIC", 0, {TextMessage("x")}),
                    StatusCode::INVALID_ARGUMENT, "topic");
  // A check stream needs a valid group and a client id.
  grpc::ClientContext ctx;
  mq::v1::TransactionCheckStreamRequest open;
  open.set_producer_group("bad group!");
  open.set_client_id("c");
  auto reader = stub()->TransactionCheckStream(&ctx, open);
  mq::v1::TransactionCheck check;
  EXPECT_FALSE(reader->Read(&check));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("producer_group", 0), 0u) << s.error_message();
  mq::v1::QueryTransactionHalfRequest q;
  q.set_max_num(5000);
  mq::v1::QueryTransactionHalfResponse qr;
  EXPECT_GRPC_ERROR(Call(stub(), &Stub::QueryTransactionHalf, q, &qr), StatusCode::INVALID_ARGUMENT,
                    "max_num");
  // Nothing of this was delivered: only the plain message is on the topic.
  ASSERT_TRUE(WaitForMaxOffset(stub(), "TxnB", 0, 1));
  EXPECT_EQ(MaxOffset("TxnB"), 1);
}

}  // namespace
}  // namespace mq::testing
