// The broker's send-back (CONSUMER_SEND_MSG_BACK) end to end: where the copies go, that a message
// the producer filled to the limits still fits its DLQ copy, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "retry_fixture.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;

// The broker's DLQ copy adds a topic and bookkeeping properties (RETRY_TOPIC, ORIGIN_MESSAGE_ID,
// RECONSUME_TIME, MAX_RECONSUME_TIMES) to a message the producer could fill to the limits: a
// body of maxMessageSize and properties up to what the store takes. Each must still reach the
// DLQ, and the orderly queue behind it move on.
TEST_F(RetryMessageTest, MessagesAtTheSizeLimitsStillReachTheDlq) {
  // The largest user property the broker takes, found on another topic.
  CreateTopic(*broker_, "Probe", 1);
  auto with_property = [](size_t n) {
    mq::v1::Message m = TextMessage("big-properties");
    (*m.mutable_user_properties())["pad"] = std::string(n, 'p');
    return m;
  };
  size_t accepted = 0;
  for (size_t lo = 1, hi = 40'000; lo <= hi;) {
    const size_t mid = (lo + hi) / 2;
    if (Send(broker_->messaging(), "Probe", 0, {with_property(mid)}).ok()) {
      accepted = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  ASSERT_GT(accepted, 30'000u);

  auto o = Consumer("g-limits");
  o.orderly = true;
  o.max_reconsume_times = 1;
  o.suspend_current_queue_time_ms = 200;
  std::mutex mu;
  std::vector<std::string> seen;
  auto consumer = std::make_unique<PushConsumer>(o);
  ASSERT_TRUE(consumer->Subscribe(kTopic, "*").ok());
  consumer->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::lock_guard lock(mu);
    const std::string& body = msgs[0].message.body;
    seen.push_back(body.size() > 64 ? "big-body" : body);
    return body == "after" ? ConsumeResult::kSuccess : ConsumeResult::kRetryLater;
  });
  ASSERT_TRUE(consumer->Start().ok());
  mq::v1::Message big_body = TextMessage(std::string(1024 * 1024, 'b'));  // the fixture's maxMessageSize
  const grpc::Status big_sent = Send(broker_->messaging(), kTopic, 1, {big_body});
  ASSERT_TRUE(big_sent.ok()) << big_sent.error_code() << " " << big_sent.error_message();
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 1, {with_property(accepted)}).ok());
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 1, {TextMessage("after")}).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return !seen.empty() && seen.back() == "after";
      },
      std::chrono::seconds(20)))
      << "the queue is stuck behind a message its DLQ copy does not fit";
  std::vector<mq::v1::MessageExt> dlq;
  ASSERT_TRUE(WaitUntil([&] {
    dlq = PullAll("%DLQ%g-limits");
    return dlq.size() == 2;
  }));
  EXPECT_EQ(dlq[0].message().body().size(), 1024u * 1024);
  EXPECT_EQ(dlq[1].message().user_properties().at("pad").size(), accepted);
  EXPECT_EQ(dlq[1].system_properties().at("RETRY_TOPIC"), kTopic);
}

// Before: every send-back went to queue 0 of %RETRY%<group> whatever retryQueueNums said, so
// one member of the group got every retry.
TEST_F(RetryMessageTest, SendBacksSpreadOverTheGroupsRetryQueues) {
  SetRetryMaxTimes("g-spread", 16, /*retry_queue_nums=*/4);
  mq::v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("spread")}, &sent).ok());
  constexpr int kSendBacks = 40;
  for (int i = 0; i < kSendBacks; ++i) {
    mq::v1::ConsumerSendMsgBackRequest req;
    req.set_group("g-spread");
    req.set_offset_msg_id(sent.entries(0).offset_msg_id());
    req.set_delay_level(1);  // 1 s in this fixture
    mq::v1::ConsumerSendMsgBackResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp).ok());
  }
  std::vector<int> per_queue(4, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        int total = 0;
        for (int q = 0; q < 4; ++q) {
          mq::v1::PullMessageResponse resp;
          per_queue[q] = 0;
          for (int64_t offset = 0;; offset = resp.next_begin_offset()) {
            resp.Clear();
            if (!Pull(broker_->messaging(), "retry-test-admin", "%RETRY%g-spread", q, offset, &resp).ok() ||
                resp.status() != mq::v1::FOUND) {
              break;
            }
            per_queue[q] += resp.messages_size();
          }
          total += per_queue[q];
        }
        return total == kSendBacks;
      },
      std::chrono::seconds(20)));
  EXPECT_GE(std::count_if(per_queue.begin(), per_queue.end(), [](int n) { return n > 0; }), 2)
      << per_queue[0] << " " << per_queue[1] << " " << per_queue[2] << " " << per_queue[3];
}

TEST_F(RetryMessageTest, BadSendBackInputIsRefusedNamingTheField) {
  mq::v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("orig")}, &sent).ok());
  auto call = [&](mq::v1::ConsumerSendMsgBackRequest req) {
    mq::v1::ConsumerSendMsgBackResponse resp;
    grpc::ClientContext ctx;
    return broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp);
  };
  auto expect = [&](const mq::v1::ConsumerSendMsgBackRequest& req, grpc::StatusCode code,
                    const std::string& field) {
    auto st = call(req);
    EXPECT_EQ(st.error_code(), code) << st.error_message();
    EXPECT_EQ(st.error_message().rfind(field, 0), 0u) << st.error_message();
  };
  mq::v1::ConsumerSendMsgBackRequest req;
  req.set_offset_msg_id(sent.entries(0).offset_msg_id());
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "group");
  req.set_group("bad group!");
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "group");
  req.set_group(std::string(121, 'g'));  // its retry topic would be 128 characters
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "group: length 121");
  req.set_group("g-bad");
  req.set_offset_msg_id("not-hex");
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "offset_msg_id");
  req.clear_offset_msg_id();
  req.set_commit_log_offset(-5);
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "commit_log_offset");
  req.set_commit_log_offset(int64_t{1} << 40);
  expect(req, grpc::StatusCode::NOT_FOUND, "commit_log_offset");
  req.set_offset_msg_id(sent.entries(0).offset_msg_id());
  req.set_msg_id("0123456789ABCDEF0123456789ABCDEF");
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "msg_id");
  // The right id works and lands in the retry topic (via the schedule topic).
  req.set_msg_id(sent.entries(0).msg_id());
  mq::v1::ConsumerSendMsgBackResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.topic(), "%RETRY%g-bad");
  EXPECT_EQ(resp.reconsume_times(), 1);
  EXPECT_EQ(resp.delay_level(), 3);
  // Nobody may write the schedule topic directly.
  auto st = Send(broker_->messaging(), "SCHEDULE_TOPIC_XXXX", 0, {TextMessage("x")});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Before: a producer's reconsume_times at the top of int32 made the send-back's "+ 1" and
  // "3 +" overflow (undefined; a sanitizer build aborted, a release build stored a wrapped
  // count and took delay level 1). They saturate now.
  mq::v1::Message worn = TextMessage("worn");
  worn.set_reconsume_times(INT32_MAX);
  mq::v1::SendMessageResponse worn_sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {worn}, &worn_sent).ok());
  mq::v1::ConsumerSendMsgBackRequest worn_req;
  worn_req.set_group("g-worn");
  worn_req.set_offset_msg_id(worn_sent.entries(0).offset_msg_id());
  mq::v1::ConsumerSendMsgBackResponse worn_resp;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&c, worn_req, &worn_resp).ok());
  }
  EXPECT_EQ(worn_resp.topic(), "%DLQ%g-worn");
  EXPECT_EQ(worn_resp.reconsume_times(), INT32_MAX);
  mq::v1::Message almost = TextMessage("almost");
  almost.set_reconsume_times(INT32_MAX - 1);
  mq::v1::SendMessageResponse almost_sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {almost}, &almost_sent).ok());
  worn_req.set_offset_msg_id(almost_sent.entries(0).offset_msg_id());
  worn_req.set_max_reconsume_times(INT32_MAX);
  {
    grpc::ClientContext c;
    ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&c, worn_req, &worn_resp).ok());
  }
  EXPECT_EQ(worn_resp.topic(), "%RETRY%g-worn");
  EXPECT_EQ(worn_resp.delay_level(), 8);  // the last level of this test's table, as any count past it
}

}  // namespace
}  // namespace mq::testing
