// The real mqbroker (and mqnamesrv) processes driven through the generated stubs.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <future>
#include <thread>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using Stub = mq::v1::Messaging::Stub;

class BrokerMessagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(BrokerOptions{"", dir_.path(), "broker-a", {}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  }
  Stub* stub() { return broker_->messaging(); }
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(BrokerMessagingTest, SendAndPullRoundTrip) {
  mq::v1::SendMessageResponse sent;
  auto msg = TextMessage("hello", "TagA", "order-1");
  (*msg.mutable_user_properties())["color"] = "red";
  ASSERT_GRPC_OK(Send(stub(), "RoundTrip", 0, {msg}, &sent));
  EXPECT_EQ(sent.status(), mq::v1::SEND_OK);
  EXPECT_EQ(sent.broker_name(), "broker-a");
  EXPECT_EQ(sent.queue_offset(), 0);
  ASSERT_EQ(sent.entries_size(), 1);
  EXPECT_EQ(sent.entries(0).msg_id().size(), 32u);
  EXPECT_EQ(sent.entries(0).offset_msg_id().size(), 32u);

  ASSERT_TRUE(WaitForMaxOffset(stub(), "RoundTrip", 0, 1));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(stub(), "g1", "RoundTrip", 0, 0, &pulled));
  ASSERT_EQ(pulled.status(), mq::v1::FOUND);
  ASSERT_EQ(pulled.messages_size(), 1);
  const auto& m = pulled.messages(0);
  EXPECT_EQ(m.message().body(), "hello");
  EXPECT_EQ(m.message().tags(), "TagA");
  ASSERT_EQ(m.message().keys_size(), 1);
  EXPECT_EQ(m.message().keys(0), "order-1");
  EXPECT_EQ(m.message().user_properties().at("color"), "red");
  EXPECT_EQ(m.msg_id(), sent.entries(0).msg_id());
  EXPECT_EQ(m.offset_msg_id(), sent.entries(0).offset_msg_id());
  EXPECT_EQ(m.queue_offset(), 0);
  EXPECT_GT(m.store_timestamp(), 0);
  EXPECT_EQ(pulled.next_begin_offset(), 1);
  EXPECT_EQ(pulled.max_offset(), 1);

  ASSERT_GRPC_OK(Pull(stub(), "g1", "RoundTrip", 0, 1, &pulled));
  EXPECT_EQ(pulled.status(), mq::v1::NO_NEW_MSG);
}

TEST_F(BrokerMessagingTest, BatchSendKeepsOrderAndIds) {
  std::vector<mq::v1::Message> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(TextMessage("m" + std::to_string(i)));
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(Send(stub(), "Batch", 1, batch, &sent));
  ASSERT_EQ(sent.entries_size(), 10);
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Batch", 1, 10));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(stub(), "g1", "Batch", 1, 0, &pulled));
  ASSERT_EQ(pulled.messages_size(), 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(pulled.messages(i).message().body(), "m" + std::to_string(i));
    EXPECT_EQ(pulled.messages(i).msg_id(), sent.entries(i).msg_id());
    EXPECT_EQ(pulled.messages(i).offset_msg_id(), sent.entries(i).offset_msg_id());
    EXPECT_EQ(pulled.messages(i).queue_offset(), sent.entries(i).queue_offset());
  }
}

TEST_F(BrokerMessagingTest, BatchAcrossSegmentRollHasExactOffsetIds) {
  // The fixture uses 4 MiB segments: 4 x 1,000,000 B, then a 10 x 100,000 B batch that rolls
  // into the second segment part way through.
  for (int i = 0; i < 4; ++i)
    ASSERT_GRPC_OK(Send(stub(), "Roll", 0, {TextMessage(std::string(1000000, 'f'))}));
  std::vector<mq::v1::Message> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(TextMessage(std::string(100000, static_cast<char>('a' + i))));
  mq::v1::SendMessageResponse sent;
  ASSERT_GRPC_OK(Send(stub(), "Roll", 0, batch, &sent));
  ASSERT_EQ(sent.entries_size(), 10);
  for (int i = 0; i < 10; ++i) {
    mq::v1::QueryMessageRequest q;
    q.set_offset_msg_id(sent.entries(i).offset_msg_id());
    mq::v1::QueryMessageResponse found;
    ASSERT_GRPC_OK(Call(broker_->admin(), &mq::v1::BrokerAdmin::Stub::QueryMessage, q, &found));
    ASSERT_EQ(found.messages_size(), 1);
    EXPECT_EQ(found.messages(0).message().body(), std::string(100000, static_cast<char>('a' + i))) << i;
    EXPECT_EQ(found.messages(0).msg_id(), sent.entries(i).msg_id());
  }
}

TEST_F(BrokerMessagingTest, TagFiltering) {
  ASSERT_GRPC_OK(Send(stub(), "Tags", 0,
                      {TextMessage("a", "TagA"), TextMessage("b", "TagB"), TextMessage("c", "TagC")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Tags", 0, 3));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(stub(), "g1", "Tags", 0, 0, &pulled, 0, "TagA || TagC"));
  ASSERT_EQ(pulled.status(), mq::v1::FOUND);
  ASSERT_EQ(pulled.messages_size(), 2);
  EXPECT_EQ(pulled.messages(0).message().body(), "a");
  EXPECT_EQ(pulled.messages(1).message().body(), "c");
  EXPECT_EQ(pulled.next_begin_offset(), 3);
}

TEST_F(BrokerMessagingTest, LongPollingWakesOnMatchingSend) {
  ASSERT_GRPC_OK(Send(stub(), "LongPoll", 0, {TextMessage("warm-up")}));
  auto pending = std::async(std::launch::async, [&] {
    mq::v1::PullMessageResponse r;
    auto s = Pull(stub(), "lp", "LongPoll", 0, 1, &r, /*hold_ms=*/15000, "TagWanted");
    return std::make_pair(s, r);
  });
  // A non-matching message must not answer the parked pull...
  ASSERT_GRPC_OK(Send(stub(), "LongPoll", 0, {TextMessage("other", "TagOther")}));
  EXPECT_EQ(pending.wait_for(300ms), std::future_status::timeout);
  // ...a matching one must, long before the 15 s hold ends.
  auto sent_at = std::chrono::steady_clock::now();
  ASSERT_GRPC_OK(Send(stub(), "LongPoll", 0, {TextMessage("wanted", "TagWanted")}));
  ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
  auto woke_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent_at);
  auto [status, resp] = pending.get();
  ASSERT_GRPC_OK(status);
  ASSERT_EQ(resp.status(), mq::v1::FOUND);
  ASSERT_EQ(resp.messages_size(), 1);
  EXPECT_EQ(resp.messages(0).message().body(), "wanted");
  RecordProperty("wake_after_send_ms", static_cast<int>(woke_ms.count()));
}

TEST_F(BrokerMessagingTest, LongPollingTimesOutWithNoNewMessage) {
  ASSERT_GRPC_OK(Send(stub(), "Quiet", 0, {TextMessage("only one")}));
  auto start = std::chrono::steady_clock::now();
  mq::v1::PullMessageResponse r;
  ASSERT_GRPC_OK(Pull(stub(), "lp", "Quiet", 0, 1, &r, 400));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status(), mq::v1::NO_NEW_MSG);
  EXPECT_GE(elapsed, 380ms);
}

TEST_F(BrokerMessagingTest, ConsumerOffsetsAndQueueOffsets) {
  ASSERT_GRPC_OK(Send(stub(), "Offsets", 2, {TextMessage("1"), TextMessage("2"), TextMessage("3")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Offsets", 2, 3));
  mq::v1::UpdateConsumerOffsetRequest update;
  update.set_consumer_group("og");
  update.mutable_queue()->set_topic("Offsets");
  update.mutable_queue()->set_queue_id(2);
  update.set_offset(2);
  mq::v1::UpdateConsumerOffsetResponse update_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::UpdateConsumerOffset, update, &update_resp));
  mq::v1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("og");
  *query.mutable_queue() = update.queue();
  mq::v1::QueryConsumerOffsetResponse query_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::QueryConsumerOffset, query, &query_resp));
  EXPECT_EQ(query_resp.offset(), 2);
  query.set_consumer_group("never");
  EXPECT_GRPC_ERROR(Call(stub(), &Stub::QueryConsumerOffset, query, &query_resp), grpc::StatusCode::NOT_FOUND,
                    "consumer_group");

  mq::v1::GetQueueOffsetsRequest qo;
  *qo.mutable_queue() = update.queue();
  mq::v1::GetQueueOffsetsResponse qo_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::GetQueueOffsets, qo, &qo_resp));
  EXPECT_EQ(qo_resp.min_offset(), 0);
  EXPECT_EQ(qo_resp.max_offset(), 3);

  mq::v1::SearchOffsetRequest search;
  *search.mutable_queue() = update.queue();
  search.set_timestamp(0);
  mq::v1::SearchOffsetResponse search_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::SearchOffset, search, &search_resp));
  EXPECT_EQ(search_resp.offset(), 0);
}

TEST_F(BrokerMessagingTest, HeartbeatConsumerIdsAndGroupChangeLongPoll) {
  auto heartbeat = [&](const std::string& client) {
    mq::v1::HeartbeatRequest hb;
    hb.set_client_id(client);
    auto* c = hb.add_consumers();
    c->set_group("cg");
    auto* sub = c->add_subscriptions();
    sub->set_topic("Ids");
    sub->set_expression("*");
    mq::v1::HeartbeatResponse resp;
    EXPECT_TRUE(Call(stub(), &Stub::Heartbeat, hb, &resp).ok());
    return resp.consumer_group_versions().at("cg");
  };
  int64_t v1 = heartbeat("client-1");
  mq::v1::GetConsumerIdsRequest ids;
  ids.set_consumer_group("cg");
  mq::v1::GetConsumerIdsResponse ids_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::GetConsumerIds, ids, &ids_resp));
  ASSERT_EQ(ids_resp.client_ids_size(), 1);
  EXPECT_EQ(ids_resp.version(), v1);

  // A watcher parked on the current version wakes when a second consumer joins.
  auto watcher = std::async(std::launch::async, [&] {
    mq::v1::GetConsumerIdsRequest w;
    w.set_consumer_group("cg");
    w.set_known_version(v1);
    w.set_wait_millis(15000);
    mq::v1::GetConsumerIdsResponse r;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    stub()->GetConsumerIds(&ctx, w, &r);
    return r;
  });
  EXPECT_EQ(watcher.wait_for(200ms), std::future_status::timeout);
  int64_t v2 = heartbeat("client-2");
  EXPECT_NE(v2, v1);
  ASSERT_EQ(watcher.wait_for(5s), std::future_status::ready);
  auto changed = watcher.get();
  EXPECT_EQ(changed.client_ids_size(), 2);
  EXPECT_EQ(changed.version(), v2);

  mq::v1::UnregisterClientRequest unreg;
  unreg.set_client_id("client-2");
  unreg.add_consumer_groups("cg");
  mq::v1::UnregisterClientResponse unreg_resp;
  ASSERT_GRPC_OK(Call(stub(), &Stub::UnregisterClient, unreg, &unreg_resp));
  ASSERT_GRPC_OK(Call(stub(), &Stub::GetConsumerIds, ids, &ids_resp));
  EXPECT_EQ(ids_resp.client_ids_size(), 1);
}

TEST_F(BrokerMessagingTest, OrderlyQueueLocks) {
  ASSERT_GRPC_OK(Send(stub(), "Locks", 0, {TextMessage("x")}));
  mq::v1::LockBatchRequest lock;
  lock.set_consumer_group("og");
  lock.set_client_id("c1");
  for (int q = 0; q < 2; ++q) {
    auto* ref = lock.add_queues();
    ref->set_topic("Locks");
    ref->set_queue_id(q);
  }
  mq::v1::LockBatchResponse locked;
  ASSERT_GRPC_OK(Call(stub(), &Stub::LockBatchQueues, lock, &locked));
  EXPECT_EQ(locked.locked_size(), 2);
  lock.set_client_id("c2");
  ASSERT_GRPC_OK(Call(stub(), &Stub::LockBatchQueues, lock, &locked));
  EXPECT_EQ(locked.locked_size(), 0);
  lock.set_client_id("c1");
  ASSERT_GRPC_OK(Call(stub(), &Stub::UnlockBatchQueues, lock, &locked));
  lock.set_client_id("c2");
  ASSERT_GRPC_OK(Call(stub(), &Stub::LockBatchQueues, lock, &locked));
  EXPECT_EQ(locked.locked_size(), 2);
}

TEST_F(BrokerMessagingTest, BadInputGetsPreciseErrors) {
  using grpc::StatusCode;
  EXPECT_GRPC_ERROR(Send(stub(), "bad topic", 0, {TextMessage("x")}), StatusCode::INVALID_ARGUMENT, "topic");
  EXPECT_GRPC_ERROR(Send(stub(), std::string(128, 't'), 0, {TextMessage("x")}), StatusCode::INVALID_ARGUMENT,
                    "topic");
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {}), StatusCode::INVALID_ARGUMENT, "messages");
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {TextMessage(std::string(1048577, 'x'))}),
                    StatusCode::INVALID_ARGUMENT, "messages[0].body");
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {TextMessage("")}), StatusCode::INVALID_ARGUMENT,
                    "messages[0].body");
  auto other = TextMessage("y");
  other.set_topic("Other");
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {TextMessage("x"), other}), StatusCode::INVALID_ARGUMENT,
                    "messages[1].topic");
  EXPECT_GRPC_ERROR(Send(stub(), "T", 99, {TextMessage("x")}), StatusCode::INVALID_ARGUMENT, "queue_id");
  // A client-chosen id comes back in SendResults and recall handles: the v2 front's rule.
  auto long_id = TextMessage("x");
  long_id.set_unique_key(std::string(129, 'K'));
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {TextMessage("x"), long_id}), StatusCode::INVALID_ARGUMENT,
                    "messages[1].unique_key");
  auto control_id = TextMessage("x");
  control_id.set_unique_key("ID\x01");
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {control_id}), StatusCode::INVALID_ARGUMENT,
                    "messages[0].unique_key");
  EXPECT_GRPC_ERROR(Send(stub(), "TBW102", 0, {TextMessage("x")}), StatusCode::INVALID_ARGUMENT, "topic");
  auto delayed = TextMessage("d");
  delayed.set_delay_level(3);
  // A delay level works for one message (issue 13), not in a batch (as RocketMQ).
  EXPECT_GRPC_ERROR(Send(stub(), "T", 0, {delayed, delayed}), StatusCode::INVALID_ARGUMENT,
                    "messages[0].delay_level");
  EXPECT_GRPC_ERROR(Send(stub(), "SCHEDULE_TOPIC_XXXX", 0, {TextMessage("x")}), StatusCode::INVALID_ARGUMENT,
                    "topic");
  // The pop journal: replay at start applies whatever records it holds.
  EXPECT_GRPC_ERROR(Send(stub(), "rmq_sys_REVIVE_LOG_DefaultCluster", 0, {TextMessage("x")}),
                    StatusCode::INVALID_ARGUMENT, "topic");

  mq::v1::PullMessageResponse r;
  ASSERT_GRPC_OK(Send(stub(), "Exists", 0, {TextMessage("x")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Exists", 0, 1));
  EXPECT_GRPC_ERROR(Pull(stub(), "g", "Exists", 50, 0, &r), StatusCode::INVALID_ARGUMENT, "queue_id");
  EXPECT_GRPC_ERROR(Pull(stub(), "g", "Exists", 0, -5, &r), StatusCode::INVALID_ARGUMENT, "queue_offset");
  EXPECT_GRPC_ERROR(Pull(stub(), "g", "NoSuchTopic", 0, 0, &r), StatusCode::NOT_FOUND, "topic");
  EXPECT_GRPC_ERROR(Pull(stub(), "bad group", "Exists", 0, 0, &r), StatusCode::INVALID_ARGUMENT,
                    "consumer_group");
  EXPECT_GRPC_ERROR(Pull(stub(), "g", "Exists", 0, 0, &r, 0, "A | B"), StatusCode::INVALID_ARGUMENT,
                    "subscription");

  // Offset too far ahead: answered with where to continue, not an error. As RocketMQ, a
  // queue whose min offset is 0 sends the consumer back to 0 - once the broker has dispatched
  // its whole log; until then the position may still appear, and the answer is "no new
  // message, stay at 1000".
  ASSERT_TRUE(WaitUntil([&] {
    grpc::Status s = Pull(stub(), "g", "Exists", 0, 1000, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (r.status() == mq::v1::NO_NEW_MSG) {
      EXPECT_EQ(r.next_begin_offset(), 1000);
    }
    return r.status() != mq::v1::NO_NEW_MSG;
  }));
  EXPECT_EQ(r.status(), mq::v1::OFFSET_ILLEGAL);
  EXPECT_EQ(r.next_begin_offset(), 0);

  // The broker is still fine.
  ASSERT_GRPC_OK(Send(stub(), "Exists", 0, {TextMessage("still alive")}));
}

// Messages with producer-chosen ids (what the client library sends) take the broker's wire
// path (send_request_wire.h); without ids they take the protobuf path. Both must store the
// same messages and refuse bad input with the same status.
mq::v1::Message WithId(mq::v1::Message m, const std::string& id) {
  m.set_unique_key(id);
  return m;
}

TEST_F(BrokerMessagingTest, ProducerIdsTakeTheWirePathWithTheSameMessagesAndErrors) {
  std::vector<mq::v1::Message> plain;
  for (int i = 0; i < 5; ++i) {
    auto m = TextMessage("body " + std::to_string(i), i % 2 ? "TagA" : "",
                         i % 3 ? "key-" + std::to_string(i) : "");
    if (i == 4) m.add_keys("second key");
    if (i > 1) (*m.mutable_user_properties())["color"] = "c" + std::to_string(i);
    m.set_flag(i);
    plain.push_back(m);
  }
  std::vector<mq::v1::Message> with_ids;
  for (size_t i = 0; i < plain.size(); ++i) with_ids.push_back(WithId(plain[i], "ID-" + std::to_string(i)));
  mq::v1::SendMessageResponse sent_plain;
  mq::v1::SendMessageResponse sent_ids;
  ASSERT_GRPC_OK(Send(stub(), "Paths", 0, plain, &sent_plain));
  ASSERT_GRPC_OK(Send(stub(), "Paths", 1, with_ids, &sent_ids));
  ASSERT_EQ(sent_ids.entries_size(), 5);
  EXPECT_EQ(sent_ids.queue_id(), 1);
  EXPECT_EQ(sent_ids.broker_name(), "broker-a");
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Paths", 0, 5));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Paths", 1, 5));
  mq::v1::PullMessageResponse by_protobuf;
  mq::v1::PullMessageResponse by_wire;
  ASSERT_GRPC_OK(Pull(stub(), "g", "Paths", 0, 0, &by_protobuf));
  ASSERT_GRPC_OK(Pull(stub(), "g", "Paths", 1, 0, &by_wire));
  ASSERT_EQ(by_protobuf.messages_size(), 5);
  ASSERT_EQ(by_wire.messages_size(), 5);
  for (int i = 0; i < 5; ++i) {
    const auto& p = by_protobuf.messages(i);
    const auto& w = by_wire.messages(i);
    EXPECT_EQ(w.msg_id(), "ID-" + std::to_string(i));
    EXPECT_EQ(w.msg_id(), sent_ids.entries(i).msg_id());
    EXPECT_EQ(w.offset_msg_id(), sent_ids.entries(i).offset_msg_id());
    EXPECT_EQ(w.commit_log_offset(), sent_ids.entries(i).commit_log_offset());
    EXPECT_EQ(w.queue_offset(), i);
    EXPECT_EQ(w.queue_id(), 1);
    EXPECT_EQ(w.message().unique_key(), w.msg_id());
    mq::v1::Message stored_by_wire = w.message();
    mq::v1::Message stored_by_protobuf = p.message();
    stored_by_wire.clear_unique_key();
    stored_by_protobuf.clear_unique_key();
    EXPECT_EQ(stored_by_wire.SerializeAsString(), stored_by_protobuf.SerializeAsString()) << i;
    EXPECT_EQ(w.store_size() + p.msg_id().size(), p.store_size() + w.msg_id().size())
        << "the same record but for the id";
  }

  using grpc::StatusCode;
  auto both = [&](const std::string& topic, int32_t queue, std::vector<mq::v1::Message> messages) {
    grpc::Status without = Send(stub(), topic, queue, messages);
    // As long as the ids the broker picks, so that size errors name the same sizes.
    for (size_t i = 0; i < messages.size(); ++i)
      messages[i] = WithId(messages[i], std::string(31, '0') + "1");
    grpc::Status with = Send(stub(), topic, queue, messages);
    EXPECT_FALSE(with.ok()) << topic;
    EXPECT_EQ(with.error_code(), without.error_code()) << topic << ": " << with.error_message();
    EXPECT_EQ(with.error_message(), without.error_message()) << topic;
  };
  auto other = TextMessage("y");
  other.set_topic("Other");
  both("bad topic", 0, {TextMessage("x")});
  both("TBW102", 0, {TextMessage("x")});
  both("SCHEDULE_TOPIC_XXXX", 0, {TextMessage("x")});
  both("RMQ_SYS_TRANS_HALF_TOPIC", 0, {TextMessage("x")});
  both("rmq_sys_wheel_timer", 0, {TextMessage("x")});
  both("rmq_sys_REVIVE_LOG_DefaultCluster", 0, {TextMessage("x")});
  both("T", 0, {});
  both("T", 0, {TextMessage("")});
  both("T", 0, {TextMessage(std::string(1048577, 'x'))});
  both("T", 0, {TextMessage("x"), other});
  both("T", 99, {TextMessage("x")});
  auto big_property = TextMessage("x");
  (*big_property.mutable_user_properties())["big"] = std::string(40000, 'p');
  both("T", 0, {big_property});

  // Bytes that are no SendMessageRequest at all: refused, named, and the broker serves on.
  grpc::GenericStub raw(grpc::CreateChannel(broker_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::Slice garbage(std::string("\x12\xFF\x01T", 4));
  grpc::ByteBuffer request(&garbage, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  raw.UnaryCall(&ctx, "/mq.v1.Messaging/SendMessage", grpc::StubOptions(), &request, &response,
                [&done](grpc::Status s) { done.set_value(std::move(s)); });
  EXPECT_GRPC_ERROR(done.get_future().get(), StatusCode::INVALID_ARGUMENT, "request");
  ASSERT_GRPC_OK(Send(stub(), "Paths", 1, {WithId(TextMessage("after"), "ID-after")}));
}

TEST_F(BrokerMessagingTest, AMessageWithoutABornHostWasBornAtTheSendersAddress) {
  // As RocketMQ records the channel's remote address; a born host the message carries is kept.
  // With a unique key the send takes the wire path, without one the protobuf path.
  auto bare = TextMessage("bare");
  bare.clear_born_host();
  ASSERT_GRPC_OK(Send(stub(), "Born", 0, {WithId(bare, "ID-bare"), WithId(TextMessage("own"), "ID-own")}));
  ASSERT_GRPC_OK(Send(stub(), "Born", 0, {bare, TextMessage("own")}));
  ASSERT_TRUE(WaitForMaxOffset(stub(), "Born", 0, 4));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(stub(), "g", "Born", 0, 0, &pulled));
  ASSERT_EQ(pulled.messages_size(), 4);
  for (int i : {0, 2}) {
    const std::string& born = pulled.messages(i).message().born_host();
    EXPECT_EQ(born.rfind("127.0.0.1:", 0), 0u) << i << ": " << born;
    EXPECT_NE(born, "127.0.0.1:0") << i;
    EXPECT_NE(born, "127.0.0.1:5555") << i;
  }
  for (int i : {1, 3}) EXPECT_EQ(pulled.messages(i).message().born_host(), "127.0.0.1:5555") << i;
}

TEST(BrokerRoleTest, SlaveRefusesWritesAndAutoCreateOffRefusesUnknownTopics) {
  TempDir dir;
  BrokerProcess slave({"", dir.Sub("slave"), "broker-s", {"brokerRole=SLAVE", "brokerId=1"}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  EXPECT_GRPC_ERROR(Send(slave.messaging(), "T", 0, {TextMessage("x")}), grpc::StatusCode::PERMISSION_DENIED,
                    "broker");

  BrokerProcess strict({"", dir.Sub("strict"), "broker-t", {"autoCreateTopicEnable=false"}});
  ASSERT_TRUE(strict.Start()) << strict.process().ReadLog();
  EXPECT_GRPC_ERROR(Send(strict.messaging(), "Unknown", 0, {TextMessage("x")}), grpc::StatusCode::NOT_FOUND,
                    "topic");
}

TEST(BrokerStartupTest, InvalidConfigNamesTheKey) {
  TempDir dir;
  ChildProcess p;
  ASSERT_TRUE(p.Start(BinaryPath("mqbroker"), {"--store-dir", dir.Sub("s"), "--set", "brokerRole=SLAVE"},
                      dir.Sub("out")));
  auto status = p.Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(WEXITSTATUS(*status), 0);
  EXPECT_NE(p.ReadLog().find("brokerId"), std::string::npos) << p.ReadLog();
}

}  // namespace
}  // namespace mq::testing
