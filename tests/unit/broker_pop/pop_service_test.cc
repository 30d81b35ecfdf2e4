// PopService on a real MessageStore: pop/ack and the committed low-water mark, invisible-time
// redelivery with attempt + 1, ChangeInvisible (old handle stale), garbled handles, DLQ after
// the group's max attempts and on request, FIFO blocking and attempt-id re-entry, tag filters
// consuming non-matching messages, long polling and auto-renew. State across restarts, resets and
// lost log tails: pop_state_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "broker/meta/json_file.h"
#include "broker/pop/receipt_handle.h"
#include "unit/broker_pop/pop_test_fixture.h"

namespace mq::broker::pop::testing {
namespace {

using ::testing::ElementsAre;

class PopServiceTest : public PopFixture {};

TEST_F(PopServiceTest, PopsAcrossQueuesAndCommitsTheLowWaterMark) {
  CreateTopic("T", 2);
  for (int i = 0; i < 3; ++i) Put("T", 0, "a" + std::to_string(i));
  for (int i = 0; i < 2; ++i) Put("T", 1, "b" + std::to_string(i));
  auto [s1, first] = PopSync(Request("g", "T", 3, 30000));
  ASSERT_TRUE(s1.ok()) << s1.ToString();
  ASSERT_EQ(first.size(), 3u);
  auto [s2, second] = PopSync(Request("g", "T", 32, 30000));
  ASSERT_TRUE(s2.ok());
  ASSERT_EQ(second.size(), 2u);
  auto [s3, third] = PopSync(Request("g", "T", 32, 30000));
  ASSERT_TRUE(s3.ok());
  EXPECT_TRUE(third.empty());
  std::vector<PoppedMessage> all = first;
  all.insert(all.end(), second.begin(), second.end());
  std::set<std::string> handles;
  for (const auto& m : all) {
    EXPECT_EQ(m.delivery_attempt, 1);
    EXPECT_EQ(m.invisible_ms, 30000);
    handles.insert(m.receipt_handle);
  }
  EXPECT_EQ(handles.size(), 5u);
  EXPECT_EQ(pop_->InFlightCount(), 5u);

  // Queue 0: ack offsets 1 then 0 -> the low-water mark moves to 2 only after offset 0.
  const PoppedMessage* q0[3] = {};
  for (const auto& m : all) {
    if (m.queue_id == 0) q0[m.queue_offset] = &m;
  }
  ASSERT_TRUE(q0[0] && q0[1] && q0[2]);
  ASSERT_TRUE(AckSync("g", "T", q0[1]->receipt_handle).ok());
  // Acked but kept (offset 0 below it is not): a second ack is refused all the same.
  EXPECT_EQ(AckSync("g", "T", q0[1]->receipt_handle).code(), StatusCode::kNotFound);
  EXPECT_EQ(pop_->LowWater("g", "T", 0), 0);
  EXPECT_EQ(offsets_->Query("g", "T", 0), 0);
  ASSERT_TRUE(AckSync("g", "T", q0[0]->receipt_handle).ok());
  EXPECT_EQ(pop_->LowWater("g", "T", 0), 2);
  EXPECT_EQ(offsets_->Query("g", "T", 0), 2);
  // Acking twice: the delivery is over, the handle is stale.
  Status again = AckSync("g", "T", q0[0]->receipt_handle);
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_EQ(pop_->InFlightCount(), 3u);
}

// Before: a slave's pop service, which holds the master's in-flight deliveries replayed at its
// start, took acks and invisible-time changes and ran its maintenance (redeliveries, the DLQ
// forwards of deliveries out of attempts), each writing a journal record into the slave's own
// commit log: that record exists nowhere on the master, and replication was refused for good
// (LOG_DIVERGED).
TEST_F(PopServiceTest, ASlaveWritesNothingOfItsOwn) {
  CreateTopic("T", 1);
  CreateGroup("g", /*orderly=*/false, /*retry_max_times=*/0);
  Put("T", 0, "a");
  Put("T", 0, "b");
  auto [popped_status, popped] = PopSync(Request("g", "T", 2, 1000));
  ASSERT_TRUE(popped_status.ok()) << popped_status.ToString();
  ASSERT_EQ(popped.size(), 2u);
  config_.brokerRole = "SLAVE";
  config_.brokerId = 1;
  Reopen();  // the same store, now a slave's: its pop service replays the deliveries in flight
  const int64_t log_end = store_->MaxPhyOffset();
  Status ack = AckSync("g", "T", popped[0].receipt_handle);
  EXPECT_EQ(ack.code(), StatusCode::kPermissionDenied) << ack.ToString();
  EXPECT_NE(ack.message().find("SLAVE"), std::string::npos) << ack.ToString();
  EXPECT_EQ(ChangeSync("g", "T", popped[1].receipt_handle, 5000).first.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ForwardSync("g", "T", popped[1].receipt_handle).code(), StatusCode::kPermissionDenied);
  clock_.Advance(60'000);  // both deliveries out of their only attempt
  pop_->RunMaintenanceOnce();
  pop_->OnClientGone("client-1", "g");
  EXPECT_EQ(store_->MaxPhyOffset(), log_end);
}

TEST_F(PopServiceTest, RedeliversAfterTheInvisibleTimeWithTheNextAttempt) {
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  auto [s, first] = PopSync(Request("g", "T", 1, 1000));
  ASSERT_EQ(first.size(), 1u);
  clock_.Advance(999);
  EXPECT_TRUE(PopSync(Request("g", "T", 1, 1000)).second.empty());
  clock_.Advance(1);
  auto [s2, second] = PopSync(Request("g", "T", 1, 1000));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message.body, "m0");
  EXPECT_EQ(second[0].delivery_attempt, 2);
  EXPECT_NE(second[0].receipt_handle, first[0].receipt_handle);
  Status stale = AckSync("g", "T", first[0].receipt_handle);
  EXPECT_EQ(stale.code(), StatusCode::kNotFound);
  EXPECT_NE(stale.message().find("receipt_handle:"), std::string::npos);
  EXPECT_TRUE(AckSync("g", "T", second[0].receipt_handle).ok());
  clock_.Advance(5000);
  EXPECT_TRUE(PopSync(Request("g", "T", 1, 1000)).second.empty());
  EXPECT_EQ(offsets_->Query("g", "T", 0), 1);
}

TEST_F(PopServiceTest, ChangeInvisibleIssuesANewHandleAndMakesTheOldOneStale) {
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  auto first = PopSync(Request("g", "T", 1, 30000)).second;
  ASSERT_EQ(first.size(), 1u);
  auto [s, handle] = ChangeSync("g", "T", first[0].receipt_handle, 5000);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(handle, first[0].receipt_handle);
  EXPECT_EQ(ChangeSync("g", "T", first[0].receipt_handle, 5000).first.code(), StatusCode::kNotFound);
  clock_.Advance(4999);
  EXPECT_TRUE(PopSync(Request("g", "T", 1, 30000)).second.empty());
  // A nack with a tiny backoff (the Node push consumer sends 1, 2, 4 ms).
  auto [s2, handle2] = ChangeSync("g", "T", handle, 1);
  ASSERT_TRUE(s2.ok());
  clock_.Advance(1);
  auto again = PopSync(Request("g", "T", 1, 30000)).second;
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery_attempt, 2);
  EXPECT_EQ(AckSync("g", "T", handle2).code(), StatusCode::kNotFound);
  EXPECT_TRUE(AckSync("g", "T", again[0].receipt_handle).ok());
}

TEST_F(PopServiceTest, GarbledHandlesAreRefusedWithAClearError) {
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  auto first = PopSync(Request("g", "T", 1, 30000)).second;
  ASSERT_EQ(first.size(), 1u);
  std::string flipped = first[0].receipt_handle;
  flipped[flipped.size() / 2] ^= 1;
  ReceiptHandle other = *ReceiptHandle::Parse(first[0].receipt_handle);
  other.broker_name = "broker-b";
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string(5000, 'x'), flipped, first[0].receipt_handle + " ",
        other.Encode(), std::string("P1 a T 0 0 0 0 0 0 zzzzzzzz")}) {
    Status s = AckSync("g", "T", bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().rfind("receipt_handle:", 0), 0u) << s.message();
  }
  CreateTopic("U", 1);
  EXPECT_EQ(AckSync("g", "U", first[0].receipt_handle).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AckSync("other-group", "T", first[0].receipt_handle).code(), StatusCode::kNotFound);
  EXPECT_TRUE(AckSync("g", "T", first[0].receipt_handle).ok());
}

TEST_F(PopServiceTest, HandleRoundTripsAndRejectsNegativeFields) {
  ReceiptHandle h{"broker-a", "%RETRY%g_T", 3, 42, 1700000000000123, 1700000000000, 1700000030000, 987654};
  auto parsed = ReceiptHandle::Parse(h.Encode());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->Encode(), h.Encode());
  EXPECT_EQ(parsed->queue_offset, 42);
  h.queue_offset = -1;
  EXPECT_FALSE(ReceiptHandle::Parse(h.Encode()).ok());
}

TEST_F(PopServiceTest, GoesToTheDeadLetterQueueAfterTheGroupsMaxAttempts) {
  CreateTopic("T", 1);
  CreateGroup("g", /*orderly=*/false, /*retry_max_times=*/1);  // 2 attempts
  Put("T", 0, "poison");
  Put("T", 0, "fine");
  auto first = PopSync(Request("g", "T", 1, 1000)).second;
  ASSERT_THAT(Bodies(first), ElementsAre("poison"));
  clock_.Advance(1000);
  auto second = PopSync(Request("g", "T", 1, 1000)).second;
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery_attempt, 2);
  clock_.Advance(1000);
  pop_->RunMaintenanceOnce();  // forwards without waiting for a pop
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return store_->MaxOffsetInQueue("%DLQ%g", 0) == 1; }));
  auto third = PopSync(Request("g", "T", 1, 1000)).second;
  ASSERT_THAT(Bodies(third), ElementsAre("fine"));  // poison went to the DLQ instead
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return pop_->InFlightCount() == 1; }));
  auto dlq = store_->GetMessages("x", "%DLQ%g", 0, 0, 1, 1 << 20);
  ASSERT_EQ(dlq.messages.size(), 1u);
  auto view = store::DecodeRecord(dlq.messages[0], false);
  EXPECT_EQ(std::string(view->body), "poison");
  ASSERT_TRUE(AckSync("g", "T", third[0].receipt_handle).ok());
  EXPECT_EQ(offsets_->Query("g", "T", 0), 2);
}

TEST_F(PopServiceTest, ForwardToDeadLetterQueueAcksAtOnce) {
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  auto first = PopSync(Request("g", "T", 1, 30000)).second;
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(ForwardSync("g", "T", first[0].receipt_handle).ok());
  EXPECT_TRUE(mq::testing::WaitUntil([&] { return store_->MaxOffsetInQueue("%DLQ%g", 0) == 1; }));
  EXPECT_EQ(pop_->InFlightCount(), 0u);
  EXPECT_EQ(pop_->LowWater("g", "T", 0), 1);
  EXPECT_EQ(ForwardSync("g", "T", first[0].receipt_handle).code(), StatusCode::kNotFound);
}

TEST_F(PopServiceTest, FifoGroupBlocksTheQueueWhileAMessageIsInFlight) {
  CreateTopic("T", 1);
  CreateGroup("fg", /*orderly=*/true);
  for (int i = 0; i < 3; ++i) Put("T", 0, "m" + std::to_string(i));
  auto req = Request("fg", "T", 1, 1000);
  req.attempt_id = "a1";
  auto first = PopSync(req).second;
  ASSERT_THAT(Bodies(first), ElementsAre("m0"));
  auto other = req;
  other.attempt_id = "a2";
  EXPECT_TRUE(PopSync(other).second.empty());  // m1 waits for m0
  // The client lost the answer and retries with the same attempt id: the same batch again.
  auto retried = PopSync(req).second;
  ASSERT_THAT(Bodies(retried), ElementsAre("m0"));
  EXPECT_EQ(retried[0].delivery_attempt, 1);
  // Expired: m0 comes back first (attempt 2), never m1 ahead of it.
  clock_.Advance(1000);
  auto redelivered = PopSync(Request("fg", "T", 2, 1000)).second;
  ASSERT_THAT(Bodies(redelivered), ElementsAre("m0", "m1"));
  EXPECT_EQ(redelivered[0].delivery_attempt, 2);
  EXPECT_EQ(redelivered[1].delivery_attempt, 1);
  ASSERT_TRUE(AckSync("fg", "T", redelivered[0].receipt_handle).ok());
  EXPECT_TRUE(PopSync(Request("fg", "T", 1, 1000)).second.empty());  // m1 still in flight
  ASSERT_TRUE(AckSync("fg", "T", redelivered[1].receipt_handle).ok());
  EXPECT_THAT(Bodies(PopSync(Request("fg", "T", 1, 1000)).second), ElementsAre("m2"));
}

TEST_F(PopServiceTest, FilteredOutMessagesAreConsumedWithoutDelivery) {
  CreateTopic("T", 1);
  Put("T", 0, "a0", "A");
  Put("T", 0, "b0", "B");
  Put("T", 0, "a1", "A");
  auto req = Request("g", "T", 32, 30000);
  req.filter_expression = "A";
  auto got = PopSync(req).second;
  ASSERT_THAT(Bodies(got), ElementsAre("a0", "a1"));
  for (const auto& m : got) ASSERT_TRUE(AckSync("g", "T", m.receipt_handle).ok());
  EXPECT_EQ(offsets_->Query("g", "T", 0), 3);
  auto sql = Request("g2", "T", 32, 30000);
  sql.filter_type = "SQL92";
  sql.filter_expression = "TAGS = 'B'";
  EXPECT_THAT(Bodies(PopSync(sql).second), ElementsAre("b0"));
  sql.filter_expression = "TAGS = ";
  auto [bad, none] = PopSync(sql);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message().rfind("filter_expression:", 0), 0u) << bad.message();
}

TEST_F(PopServiceTest, RefusesBadRequests) {
  CreateTopic("T", 2);
  EXPECT_EQ(PopSync(Request("g", "Nope", 1, 1000)).first.code(), StatusCode::kNotFound);
  EXPECT_EQ(PopSync(Request("g", "T", 0, 1000)).first.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PopSync(Request("g", "T", 33, 1000)).first.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PopSync(Request("g", "T", 1, -1)).first.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PopSync(Request("bad group", "T", 1, 1000)).first.code(), StatusCode::kInvalidArgument);
  auto q = Request("g", "T", 1, 1000);
  q.queue_id = 2;
  EXPECT_EQ(PopSync(q).first.code(), StatusCode::kInvalidArgument);
}

TEST_F(PopServiceTest, LongPollingAnswersOnArrivalOrAtTheDeadline) {
  CreateTopic("T", 4);
  auto req = Request("g", "T", 4, 30000);
  req.poll_ms = 200;
  auto start = std::chrono::steady_clock::now();
  auto [s, none] = PopSync(req);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(none.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));

  req.poll_ms = 8000;
  auto promise = std::make_shared<std::promise<PopOutcome>>();
  auto future = promise->get_future();
  pop_->Pop(req, [promise](const Status& st, std::vector<PoppedMessage> m) { promise->set_value({st, m}); });
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  start = std::chrono::steady_clock::now();
  Put("T", 3, "late");
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_THAT(Bodies(future.get().second), ElementsAre("late"));
}

TEST_F(PopServiceTest, AutoRenewKeepsMessagesInvisibleWhileTheClientLives) {
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  auto req = Request("g", "T", 1, 0);
  req.auto_renew = true;
  req.client_id = "client-1";
  auto first = PopSync(req).second;
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].invisible_ms, 60000);
  for (int i = 0; i < 36; ++i) {  // 3 minutes in 5 s ticks, renewed each time it gets within 10 s
    clock_.Advance(5000);
    pop_->OnClientAlive("client-1", "g");
    pop_->RunMaintenanceOnce();
    EXPECT_TRUE(PopSync(Request("g", "T", 1, 1000)).second.empty()) << i;
  }
  pop_->OnClientGone("client-1", "g");
  clock_.Advance(1000);
  auto again = PopSync(Request("g", "T", 1, 1000)).second;
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery_attempt, 2);
  // The original handle is stale once redelivered.
  EXPECT_EQ(AckSync("g", "T", first[0].receipt_handle).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace mq::broker::pop::testing
