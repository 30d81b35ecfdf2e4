// Standing pulls on the broker's fast port (PullMessageRequest.standing_replies): one request
// answered once per arrival under its request id, flagged kMoreReplies until its last reply,
// bounded by its reply count and its message total, ended at once by a Cancel frame or the
// connection's close; bad values refused naming the field.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "common/frame.h"
#include "frame_client.h"
#include "grpc_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;

mq::v1::PullMessageRequest PullOf(const std::string& topic, int64_t offset, int32_t max_msgs, int64_t hold_ms,
                                  int32_t standing) {
  mq::v1::PullMessageRequest req;
  req.set_consumer_group("standing_group");
  req.set_topic(topic);
  req.set_queue_id(0);
  req.set_queue_offset(offset);
  req.set_max_msg_nums(max_msgs);
  req.set_subscription("*");
  req.set_suspend_timeout_millis(hold_ms);
  req.set_standing_replies(standing);
  return req;
}

std::string PullFrame(uint64_t id, const mq::v1::PullMessageRequest& req) {
  return SendFrame(id, req.SerializeAsString(), frame::Method::kPullMessage);
}

struct PullReply {
  bool more = false;
  mq::v1::PullMessageResponse response;
  std::vector<std::string> bodies;
};

class BrokerStandingPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(BrokerOptions{"", dir_.path(), "broker-a", {}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    ASSERT_FALSE(broker_->fast_address().empty()) << "the ready file names no fast send port";
    CreateTopic(*broker_, "StandT", 1);
    client_ = std::make_unique<FrameClient>(broker_->fast_address());
    ASSERT_TRUE(client_->connected());
  }

  // Sends `body` as request `send_id` and reads frames until its reply and, when
  // `pull_id` is not 0, that pull's next reply have come; the pull reply is returned.
  std::optional<PullReply> SendAndReadPull(uint64_t send_id, const std::string& body, uint64_t pull_id) {
    if (!client_->Write(SendFrame(send_id, SendRequest("StandT", body)))) return std::nullopt;
    std::optional<PullReply> pulled;
    bool sent = false;
    while (!sent || (pull_id != 0 && !pulled)) {
      auto f = client_->ReadFrame();
      if (!f) return std::nullopt;
      if (f->first.request_id == send_id) {
        EXPECT_EQ(f->first.code, StatusCode::kOk) << f->second;
        EXPECT_EQ(f->first.flags, 0) << "a send reply is final";
        sent = true;
        continue;
      }
      EXPECT_EQ(f->first.request_id, pull_id) << "a frame for no call in flight";
      pulled = ToPullReply(*f);
      if (!pulled) return std::nullopt;
    }
    return pulled ? pulled : PullReply{};
  }

  std::string Suspended() { return RuntimeValue(broker_->admin(), "suspendedRequests"); }

  // Pull 1 stands (held 60 s, up to 8 more replies) and is parked again after its first reply,
  // `body`.
  void StandAfterOneReply(const std::string& body) {
    ASSERT_TRUE(client_->Write(PullFrame(1, PullOf("StandT", 0, 32, 60'000, 8))));
    auto first = SendAndReadPull(100, body, 1);
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(first->more);
    ASSERT_TRUE(WaitUntil([&] { return Suspended() == "1"; }, 10s)) << Suspended();
  }

  static std::optional<PullReply> ToPullReply(const std::pair<frame::Header, std::string>& f) {
    EXPECT_EQ(f.first.code, StatusCode::kOk) << f.second;
    PullReply r;
    r.more = (f.first.flags & frame::kMoreReplies) != 0;
    if (f.first.code != StatusCode::kOk || !r.response.ParseFromString(f.second)) return std::nullopt;
    for (const auto& m : r.response.messages()) r.bodies.push_back(m.message().body());
    return r;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<FrameClient> client_;
};

TEST_F(BrokerStandingPullTest, OnePullIsAnsweredAtEachArrivalUntilItsRepliesAreUsed) {
  // Parked (nothing stored yet), with 2 more replies after the first.
  ASSERT_TRUE(client_->Write(PullFrame(1, PullOf("StandT", 0, 32, 10'000, 2))));
  const std::vector<std::pair<std::string, bool>> expected = {{"a", true}, {"b", true}, {"c", false}};
  uint64_t send_id = 100;
  int64_t next = 0;
  for (const auto& [body, more] : expected) {
    auto r = SendAndReadPull(++send_id, body, 1);
    ASSERT_TRUE(r.has_value()) << "no reply to the standing pull for " << body;
    EXPECT_EQ(r->more, more) << body;
    EXPECT_EQ(r->response.status(), mq::v1::FOUND);
    EXPECT_EQ(r->bodies, std::vector<std::string>{body});
    EXPECT_EQ(r->response.next_begin_offset(), ++next);
  }
  // The pull has ended: the next arrival answers nobody, and a new pull gets it.
  ASSERT_TRUE(SendAndReadPull(++send_id, "d", 0).has_value());
  ASSERT_TRUE(client_->Write(PullFrame(2, PullOf("StandT", 3, 32, 0, 0))));
  auto f = client_->ReadFrame();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->first.request_id, 2u) << "the standing pull answered after its last reply";
  auto r = ToPullReply(*f);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->more);
  EXPECT_EQ(r->bodies, std::vector<std::string>{"d"});
}

TEST_F(BrokerStandingPullTest, ItsRepliesTogetherCarryNoMoreThanItsMessageTotal) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(SendAndReadPull(100 + i, "m" + std::to_string(i), 0).has_value());
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "StandT", 0, 5));
  // Up to 8 more replies of at most 2 messages each, but 3 messages in all: a reply of 2 that
  // goes on, then one of 1 that ends it, though 2 more are stored.
  auto req = PullOf("StandT", 0, 2, 10'000, 8);
  req.set_standing_max_msgs(3);
  ASSERT_TRUE(client_->Write(PullFrame(1, req)));
  std::vector<PullReply> replies;
  while (replies.empty() || replies.back().more) {
    auto f = client_->ReadFrame();
    ASSERT_TRUE(f.has_value());
    ASSERT_EQ(f->first.request_id, 1u);
    auto r = ToPullReply(*f);
    ASSERT_TRUE(r.has_value());
    replies.push_back(*r);
    ASSERT_LE(replies.size(), 9u);
  }
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].bodies, (std::vector<std::string>{"m0", "m1"}));
  EXPECT_EQ(replies[1].bodies, std::vector<std::string>{"m2"});
  EXPECT_EQ(replies[1].response.next_begin_offset(), 3);
}

// An offset reset (mqadmin resetOffsetByTime) made while a pull stands ends it at its next
// reply, with OFFSET_RESET and the new position, as it answers a new pull.
TEST_F(BrokerStandingPullTest, AnOffsetResetEndsAStandingPull) {
  ASSERT_TRUE(client_->Write(PullFrame(1, PullOf("StandT", 0, 32, 10'000, 8))));
  auto a = SendAndReadPull(100, "a", 1);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->more);
  mq::v1::ResetOffsetRequest reset;
  reset.set_group("standing_group");
  reset.set_topic("StandT");
  reset.set_timestamp(0);  // back to the start
  mq::v1::ResetOffsetResponse reset_resp;
  ASSERT_GRPC_OK(
      Call(broker_->admin(), &mq::v1::BrokerAdmin::Stub::ResetOffsetByTimestamp, reset, &reset_resp));
  // The pull finds the reset when it parks again: right after "a" if the reset came first,
  // else after answering "b" (the order of the reply's write and the test's reset).
  ASSERT_TRUE(client_->Write(SendFrame(101, SendRequest("StandT", "b"))));
  bool sent = false;
  std::vector<PullReply> pulled;
  while (!sent || pulled.empty() || pulled.back().more) {
    auto f = client_->ReadFrame();
    ASSERT_TRUE(f.has_value()) << "the standing pull went on past the reset";
    if (f->first.request_id == 101) {
      sent = true;
      continue;
    }
    ASSERT_EQ(f->first.request_id, 1u);
    auto r = ToPullReply(*f);
    ASSERT_TRUE(r.has_value());
    pulled.push_back(*r);
    ASSERT_LE(pulled.size(), 2u);
  }
  if (pulled.size() == 2) {
    EXPECT_EQ(pulled[0].bodies, std::vector<std::string>{"b"});
  }
  EXPECT_EQ(pulled.back().response.status(), mq::v1::OFFSET_RESET);
  EXPECT_EQ(pulled.back().response.next_begin_offset(), 0);
}

TEST_F(BrokerStandingPullTest, OutOfRangeValuesAreRefusedNamingTheField) {
  struct Case {
    int32_t standing;
    int32_t max_msgs;
    std::string field;
  };
  const std::vector<Case> cases = {
      {65, 0, "standing_replies:"}, {-1, 0, "standing_replies:"}, {2, -1, "standing_max_msgs:"}};
  uint64_t id = 1;
  for (const auto& c : cases) {
    auto req = PullOf("StandT", 0, 32, 0, c.standing);
    req.set_standing_max_msgs(c.max_msgs);
    ASSERT_TRUE(client_->Write(PullFrame(id, req)));
    auto f = client_->ReadFrame();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->first.request_id, id++);
    EXPECT_EQ(f->first.code, StatusCode::kInvalidArgument);
    EXPECT_EQ(f->second.rfind(c.field, 0), 0u) << f->second;
  }
}

TEST_F(BrokerStandingPullTest, OverGrpcAStandingPullIsAnsweredOnce) {
  ASSERT_TRUE(SendAndReadPull(100, "g", 0).has_value());
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "StandT", 0, 1));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  mq::v1::PullMessageResponse resp;
  auto s = broker_->messaging()->PullMessage(&ctx, PullOf("StandT", 0, 32, 1'000, 4), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), mq::v1::FOUND);
  ASSERT_EQ(resp.messages_size(), 1);
}

// A Cancel frame ends a pull the broker holds at once, with its last reply (NO_NEW_MSG at its
// position, not flagged), where its 60 s hold would have kept its place; the pull takes no later
// arrival. A Cancel for an id with no pull is ignored, one with a payload refused naming the field.
TEST_F(BrokerStandingPullTest, ACancelEndsAPullAtOnceWithItsLastReply) {
  ASSERT_NO_FATAL_FAILURE(StandAfterOneReply("a"));
  ASSERT_TRUE(client_->Write(SendFrame(7, "", frame::Method::kCancel)));  // no such pull
  ASSERT_TRUE(client_->Write(SendFrame(1, "", frame::Method::kCancel)));
  auto f = client_->ReadFrame();
  ASSERT_TRUE(f.has_value()) << "the cancelled pull did not end within 10 s";
  EXPECT_EQ(f->first.request_id, 1u) << "a reply to the Cancel of an unknown id";
  auto last = ToPullReply(*f);
  ASSERT_TRUE(last.has_value());
  EXPECT_FALSE(last->more);
  EXPECT_EQ(last->response.status(), mq::v1::NO_NEW_MSG);
  EXPECT_EQ(last->response.next_begin_offset(), 1);
  EXPECT_TRUE(WaitUntil([&] { return Suspended() == "0"; }, 10s)) << Suspended();

  ASSERT_TRUE(SendAndReadPull(101, "b", 0).has_value());  // fails on a frame for pull 1
  ASSERT_TRUE(client_->Write(PullFrame(2, PullOf("StandT", 1, 32, 0, 0))));
  auto g = client_->ReadFrame();
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->first.request_id, 2u);
  auto r = ToPullReply(*g);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->bodies, std::vector<std::string>{"b"});

  ASSERT_TRUE(client_->Write(SendFrame(9, "x", frame::Method::kCancel)));
  auto refused = client_->ReadFrame();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->first.request_id, 9u);
  EXPECT_EQ(refused->first.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(refused->second.rfind("frame.length", 0), 0u) << refused->second;
}

TEST_F(BrokerStandingPullTest, AConnectionClosedUnderAStandingPullEndsItAndTheBrokerServesOn) {
  ASSERT_NO_FATAL_FAILURE(StandAfterOneReply("x"));
  client_.reset();  // parked again for its next reply, with nobody to take it
  // Its place is freed at once, not at its 60 s hold time or the next arrival.
  EXPECT_TRUE(WaitUntil([&] { return Suspended() == "0"; }, 10s)) << Suspended();
  client_ = std::make_unique<FrameClient>(broker_->fast_address());
  ASSERT_TRUE(client_->connected());
  // Arrivals wake the orphaned pull, which must neither write to the closed socket nor go on.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(SendAndReadPull(200 + i, "y" + std::to_string(i), 0).has_value());
  ASSERT_TRUE(client_->Write(PullFrame(2, PullOf("StandT", 1, 32, 0, 0))));
  auto f = client_->ReadFrame();
  ASSERT_TRUE(f.has_value());
  auto r = ToPullReply(*f);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->bodies, (std::vector<std::string>{"y0", "y1", "y2"}));
  EXPECT_TRUE(broker_->process().running());
}

}  // namespace
}  // namespace mq::testing
