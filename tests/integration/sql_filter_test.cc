// SQL92 property filters against real processes: the broker evaluates the selector while it
// reads a queue, so pull responses carry only matching messages (long-polling wake-ups
// included); enablePropertyFilter=false and bad syntax are refused with a clear reason; a tag
// consumer and an SQL consumer share a topic.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "broker_fixture.h"
#include "mq/client/message_selector.h"
#include "mq/client/producer.h"
#include "mq/client/pull_consumer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using mq::client::MessageSelector;

mq::v1::Message PropertyMessage(int n, const std::string& tags) {
  mq::v1::Message m = TextMessage("m" + std::to_string(n), tags);
  (*m.mutable_user_properties())["n"] = std::to_string(n);
  if (n % 3 == 0) (*m.mutable_user_properties())["color"] = n % 2 == 0 ? "red" : "blue";
  return m;
}

grpc::Status SqlPull(mq::v1::Messaging::Stub* stub, const std::string& topic, int64_t offset,
                     const std::string& sql, mq::v1::PullMessageResponse* response, int64_t hold_ms = 0) {
  mq::v1::PullMessageRequest req;
  req.set_consumer_group("g-sql-raw");
  req.set_topic(topic);
  req.set_queue_id(0);
  req.set_queue_offset(offset);
  req.set_max_msg_nums(64);
  req.set_subscription(sql);
  req.set_expression_type("SQL92");
  req.set_suspend_timeout_millis(hold_ms);
  req.set_client_id("sql-test-client");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(hold_ms + 10000));
  return stub->PullMessage(&ctx, req, response);
}

grpc::Status SqlHeartbeat(mq::v1::Messaging::Stub* stub, const std::string& topic, const std::string& sql) {
  mq::v1::HeartbeatRequest req;
  req.set_client_id("sql-test-client");
  auto* c = req.add_consumers();
  c->set_group("g-sql-hb");
  auto* s = c->add_subscriptions();
  s->set_topic(topic);
  s->set_expression(sql);
  s->set_expression_type("SQL92");
  mq::v1::HeartbeatResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub->Heartbeat(&ctx, req, &resp);
}

std::set<std::string> Bodies(const mq::v1::PullMessageResponse& r) {
  std::set<std::string> out;
  for (const auto& m : r.messages()) out.insert(m.message().body());
  return out;
}

TEST(SqlFilterTest, PullCarriesOnlyMatchingMessages) {
  TempDir dir;
  BrokerProcess broker(BrokerOptions{"", dir.Sub("b"), "broker-a", {"enablePropertyFilter=true"}});
  ASSERT_TRUE(broker.Start());
  CreateTopic(broker, "SqlTopic", 1);
  std::vector<mq::v1::Message> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(PropertyMessage(i, i % 2 == 0 ? "TagA" : "TagB"));
  ASSERT_TRUE(Send(broker.messaging(), "SqlTopic", 0, batch).ok());
  ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "SqlTopic", 0, 20));

  mq::v1::PullMessageResponse r;
  ASSERT_TRUE(SqlPull(broker.messaging(), "SqlTopic", 0, "n >= 5 AND n < 10", &r).ok());
  EXPECT_EQ(r.status(), mq::v1::FOUND);
  EXPECT_EQ(Bodies(r), (std::set<std::string>{"m5", "m6", "m7", "m8", "m9"}));
  EXPECT_EQ(r.next_begin_offset(), 20);  // the unmatched ones are skipped, not left behind

  // System properties (TAGS) and three-valued NULLs, as RocketMQ evaluates them.
  ASSERT_TRUE(SqlPull(broker.messaging(), "SqlTopic", 0, "TAGS = 'TagB' AND color IS NOT NULL", &r).ok());
  EXPECT_EQ(Bodies(r), (std::set<std::string>{"m3", "m9", "m15"}));
  ASSERT_TRUE(SqlPull(broker.messaging(), "SqlTopic", 0, "color <> 'red'", &r).ok());
  EXPECT_EQ(Bodies(r), (std::set<std::string>{"m3", "m9", "m15"}));  // missing color: no match
  ASSERT_TRUE(
      SqlPull(broker.messaging(), "SqlTopic", 0, "color IN ('red') OR n BETWEEN 18 AND 100", &r).ok());
  EXPECT_EQ(Bodies(r), (std::set<std::string>{"m0", "m6", "m12", "m18", "m19"}));

  // Nothing matches: NO_MATCHED_MSG, and the position still moves past the scanned messages.
  ASSERT_TRUE(SqlPull(broker.messaging(), "SqlTopic", 0, "n > 1000", &r).ok());
  EXPECT_EQ(r.status(), mq::v1::NO_MATCHED_MSG);
  EXPECT_EQ(r.messages_size(), 0);
  EXPECT_EQ(r.next_begin_offset(), 20);

  // A parked pull skips the non-matching arrival and answers with the matching one.
  auto parked = std::async(std::launch::async, [&] {
    mq::v1::PullMessageResponse resp;
    grpc::Status s = SqlPull(broker.messaging(), "SqlTopic", 20, "n = 100", &resp, 8000);
    return std::make_pair(s, resp);
  });
  // The pull is parked once the broker holds it; the first send can only be seen by it then.
  ASSERT_TRUE(WaitUntil([&] { return RuntimeValue(broker.admin(), "suspendedRequests") == "1"; },
                        std::chrono::seconds(5)));
  ASSERT_TRUE(Send(broker.messaging(), "SqlTopic", 0, {PropertyMessage(50, "TagA")}).ok());
  ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "SqlTopic", 0, 21));
  ASSERT_TRUE(Send(broker.messaging(), "SqlTopic", 0, {PropertyMessage(100, "TagA")}).ok());
  auto [status, resp] = parked.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.status(), mq::v1::FOUND);
  EXPECT_EQ(Bodies(resp), std::set<std::string>{"m100"});
  EXPECT_EQ(resp.next_begin_offset(), 22);
}

// A backlog whose next matching message lies beyond one read window must not park the pull
// waiting for an arrival that never comes: the broker reads on (a few windows) and then
// answers NO_MATCHED_MSG with the new position at once, like RocketMQ's
// PULL_RETRY_IMMEDIATELY. Tag filters had the same stall; both are checked.
TEST(SqlFilterTest, SparseMatchesInABacklogAnswerWithoutWaiting) {
  TempDir dir;
  BrokerProcess broker(BrokerOptions{"", dir.Sub("b"), "broker-a", {"enablePropertyFilter=true"}});
  ASSERT_TRUE(broker.Start());
  CreateTopic(broker, "Sparse", 1);
  constexpr int kMisses = 6000;
  for (int sent = 0; sent < kMisses; sent += 500) {
    std::vector<mq::v1::Message> batch(500, PropertyMessage(1, "TagMiss"));
    ASSERT_TRUE(Send(broker.messaging(), "Sparse", 0, batch).ok());
  }
  ASSERT_TRUE(Send(broker.messaging(), "Sparse", 0, {PropertyMessage(2, "TagHit")}).ok());
  ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "Sparse", 0, kMisses + 1));

  constexpr int64_t kHoldMs = 20000;
  auto drain = [&](const std::function<grpc::Status(int64_t, mq::v1::PullMessageResponse*)>& pull) {
    int64_t offset = 0;
    for (int round = 0; round < 20; ++round) {
      mq::v1::PullMessageResponse r;
      const auto begin = std::chrono::steady_clock::now();
      grpc::Status s = pull(offset, &r);
      const auto took = std::chrono::steady_clock::now() - begin;
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_LT(took, std::chrono::milliseconds(kHoldMs / 2)) << "pull at " << offset << " was parked";
      if (!s.ok() || took >= std::chrono::milliseconds(kHoldMs / 2)) return false;
      if (r.status() == mq::v1::FOUND) {
        EXPECT_EQ(Bodies(r), std::set<std::string>{"m2"});
        return true;
      }
      EXPECT_EQ(r.status(), mq::v1::NO_MATCHED_MSG);
      EXPECT_GT(r.next_begin_offset(), offset);
      if (r.next_begin_offset() <= offset) return false;
      offset = r.next_begin_offset();
    }
    return false;
  };
  EXPECT_TRUE(drain([&](int64_t offset, mq::v1::PullMessageResponse* r) {
    return SqlPull(broker.messaging(), "Sparse", offset, "n = 2", r, kHoldMs);
  }));
  EXPECT_TRUE(drain([&](int64_t offset, mq::v1::PullMessageResponse* r) {
    return Pull(broker.messaging(), "g-tag", "Sparse", 0, offset, r, kHoldMs, "TagHit");
  }));
}

TEST(SqlFilterTest, SyntaxErrorIsInvalidArgumentWithPosition) {
  TempDir dir;
  BrokerProcess broker(BrokerOptions{"", dir.Sub("b"), "broker-a", {"enablePropertyFilter=true"}});
  ASSERT_TRUE(broker.Start());
  CreateTopic(broker, "SqlTopic", 1);
  mq::v1::PullMessageResponse r;
  grpc::Status s = SqlPull(broker.messaging(), "SqlTopic", 0, "n > 5 AND AND color = 'red'", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("syntax error at line 1, column 11 (offset 10)"), std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("found 'AND'"), std::string::npos) << s.error_message();
  s = SqlHeartbeat(broker.messaging(), "SqlTopic", "n >\n 'x'");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("line 1, column 3"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("subscriptions[0]"), std::string::npos) << s.error_message();
  EXPECT_TRUE(SqlHeartbeat(broker.messaging(), "SqlTopic", "n > 5").ok());
  // An unknown expression type is refused too.
  mq::v1::PullMessageRequest req;
  req.set_consumer_group("g");
  req.set_topic("SqlTopic");
  req.set_subscription("x");
  req.set_expression_type("XPATH");
  grpc::ClientContext ctx;
  s = broker.messaging()->PullMessage(&ctx, req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("'XPATH' is neither TAG nor SQL92"), std::string::npos)
      << s.error_message();
  // The broker still serves after the refusals.
  EXPECT_TRUE(SqlPull(broker.messaging(), "SqlTopic", 0, "TRUE", &r).ok());
  EXPECT_EQ(r.status(), mq::v1::NO_NEW_MSG);
  // The client refuses the selector itself, naming the position.
  mq::client::PushConsumerOptions o;
  o.group = "g-bad";
  mq::client::PushConsumer consumer(o);
  Status bad = consumer.Subscribe("SqlTopic", MessageSelector::BySql("(n > 5"));
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("column 7"), std::string::npos) << bad.message();
}

TEST(SqlFilterTest, RefusedWhenPropertyFilterIsDisabled) {
  NamesrvProcess namesrv;
  ASSERT_TRUE(namesrv.started());
  TempDir dir;
  BrokerProcess broker(BrokerOptions{namesrv.address(), dir.Sub("b"), "broker-a", {}});  // default: off
  ASSERT_TRUE(broker.Start());
  CreateTopic(broker, "SqlTopic", 1);
  mq::v1::PullMessageResponse r;
  grpc::Status s = SqlPull(broker.messaging(), "SqlTopic", 0, "n > 5", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("enablePropertyFilter=false"), std::string::npos) << s.error_message();
  s = SqlHeartbeat(broker.messaging(), "SqlTopic", "n > 5");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Tag subscriptions are unaffected.
  EXPECT_TRUE(Pull(broker.messaging(), "g-tag", "SqlTopic", 0, 0, &r, 0, "TagA").ok());

  // A push consumer with an SQL92 selector fails to start, with the broker's reason.
  ASSERT_TRUE(WaitUntil([&] {
    mq::v1::TopicRouteData route;
    return QueryRoute(namesrv.stub(), "SqlTopic", &route).ok();
  }));
  mq::client::PushConsumerOptions o;
  o.client.namesrv_addrs = {namesrv.address()};
  o.group = "g-sql-off";
  o.offset_dir = dir.Sub("offsets");
  mq::client::PushConsumer consumer(o);
  ASSERT_TRUE(consumer.Subscribe("SqlTopic", MessageSelector::BySql("n > 5")).ok());
  consumer.RegisterListener([](const auto&) { return mq::client::ConsumeResult::kSuccess; });
  Status started = consumer.Start();
  EXPECT_EQ(started.code(), StatusCode::kFailedPrecondition) << started.ToString();
  EXPECT_NE(started.message().find("enablePropertyFilter=false"), std::string::npos) << started.ToString();
}

TEST(SqlFilterTest, TagAndSqlConsumersSideBySide) {
  NamesrvProcess namesrv;
  ASSERT_TRUE(namesrv.started());
  TempDir dir;
  BrokerProcess broker(
      BrokerOptions{namesrv.address(), dir.Sub("b"), "broker-a", {"enablePropertyFilter=true"}});
  ASSERT_TRUE(broker.Start());
  CreateTopic(broker, "MixTopic", 1);  // one queue: the last message is pulled after all others
  ASSERT_TRUE(WaitUntil([&] {
    mq::v1::TopicRouteData route;
    return QueryRoute(namesrv.stub(), "MixTopic", &route).ok();
  }));
  mq::client::ClientOptions client;
  client.namesrv_addrs = {namesrv.address()};
  client.route_refresh_ms = 500;
  client.heartbeat_ms = 1000;

  struct Seen {
    std::mutex mu;
    std::multiset<std::string> bodies;
    size_t size() {
      std::lock_guard lock(mu);
      return bodies.size();
    }
  };
  auto consumer_for = [&](const std::string& group, const MessageSelector& selector, Seen* seen) {
    mq::client::PushConsumerOptions o;
    o.client = client;
    o.group = group;
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.rebalance_interval_ms = 500;
    o.pull_suspend_ms = 2000;
    o.offset_dir = dir.Sub("offsets");
    auto c = std::make_unique<mq::client::PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe("MixTopic", selector).ok());
    c->RegisterListener([seen](const std::vector<mq::client::ReceivedMessage>& msgs) {
      std::lock_guard lock(seen->mu);
      for (const auto& m : msgs) seen->bodies.insert(m.message.body);
      return mq::client::ConsumeResult::kSuccess;
    });
    return c;
  };
  Seen tag_seen, sql_seen;
  auto tag_consumer = consumer_for("g-tag", MessageSelector::ByTag("TagA"), &tag_seen);
  auto sql_consumer =
      consumer_for("g-sql", MessageSelector::BySql("n >= 30 OR (TAGS = 'TagB' AND n < 4)"), &sql_seen);
  ASSERT_TRUE(tag_consumer->Start().ok());
  ASSERT_TRUE(sql_consumer->Start().ok());

  mq::client::ProducerOptions po;
  po.client = client;
  mq::client::Producer producer(po);
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 40; ++i) {
    auto m = mq::client::MakeMessage("MixTopic", "m" + std::to_string(i), i % 2 == 0 ? "TagA" : "TagB");
    m.properties["n"] = std::to_string(i);
    ASSERT_TRUE(producer.Send(m).ok());
  }
  std::multiset<std::string> want_tag, want_sql = {"m1", "m3"};
  for (int i = 0; i < 40; i += 2) want_tag.insert("m" + std::to_string(i));
  for (int i = 30; i < 40; ++i) want_sql.insert("m" + std::to_string(i));
  // m38 is the last message both consumers match; m39 the last the SQL one does.
  ASSERT_TRUE(WaitUntil([&] { return tag_seen.size() >= want_tag.size(); }, std::chrono::seconds(20)));
  ASSERT_TRUE(WaitUntil([&] { return sql_seen.size() >= want_sql.size(); }, std::chrono::seconds(20)));
  {
    std::lock_guard lock(tag_seen.mu);
    EXPECT_EQ(tag_seen.bodies, want_tag);
  }
  {
    std::lock_guard lock(sql_seen.mu);
    EXPECT_EQ(sql_seen.bodies, want_sql);
  }

  // The lite pull consumer takes a selector too.
  mq::client::PullConsumerOptions lo;
  lo.client = client;
  lo.group = "g-sql-pull";
  lo.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  mq::client::PullConsumer puller(lo);
  ASSERT_TRUE(puller.Start().ok());
  ASSERT_TRUE(puller.Subscribe("MixTopic", MessageSelector::BySql("n BETWEEN 10 AND 12")).ok());
  std::multiset<std::string> pulled;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto msgs = puller.Poll(200);
        if (msgs.ok()) {
          for (const auto& m : *msgs) pulled.insert(m.message.body);
        }
        return pulled.size() >= 3;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(pulled, (std::multiset<std::string>{"m10", "m11", "m12"}));
  puller.Shutdown();
  tag_consumer->Shutdown();
  sql_consumer->Shutdown();
  producer.Shutdown();
}

// mqadmin consumeMessage --sql prints only the matching messages; a bad selector is a
// one-line error naming the position.
TEST(SqlFilterTest, MqadminConsumeMessageWithSql) {
  NamesrvProcess namesrv;
  ASSERT_TRUE(namesrv.started());
  TempDir dir;
  BrokerProcess broker(
      BrokerOptions{namesrv.address(), dir.Sub("b"), "broker-a", {"enablePropertyFilter=true"}});
  ASSERT_TRUE(broker.Start());
  CreateTopic(broker, "AdminSql", 2);
  for (int q = 0; q < 2; ++q) {
    std::vector<mq::v1::Message> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(PropertyMessage(q * 10 + i, "TagA"));
    ASSERT_TRUE(Send(broker.messaging(), "AdminSql", q, batch).ok());
    ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "AdminSql", q, 10));
  }
  ASSERT_TRUE(WaitUntil([&] {
    mq::v1::TopicRouteData route;
    return QueryRoute(namesrv.stub(), "AdminSql", &route).ok();
  }));
  int runs = 0;
  auto run = [&](std::vector<std::string> args, int* code) {
    args.push_back("-n");
    args.push_back(namesrv.address());
    ChildProcess p;
    std::string log = dir.Sub("mqadmin." + std::to_string(++runs) + ".out");
    EXPECT_TRUE(p.Start(BinaryPath("mqadmin"), args, log));
    auto status = p.Wait(std::chrono::seconds(30));
    *code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    return p.ReadLog();
  };
  int code = -1;
  std::string out = run({"consumeMessage", "-t", "AdminSql", "--sql", "n > 7 AND n < 13"}, &code);
  EXPECT_EQ(code, 0) << out;
  for (const char* body : {"body=m8", "body=m9", "body=m10", "body=m11", "body=m12"}) {
    EXPECT_NE(out.find(body), std::string::npos) << body << " missing in " << out;
  }
  EXPECT_EQ(out.find("body=m7\n"), std::string::npos) << out;
  EXPECT_NE(out.find("consumed 5 message(s)"), std::string::npos) << out;
  out = run({"consumeMessage", "-t", "AdminSql", "--sql", "n >"}, &code);
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("column 4"), std::string::npos) << out;
}

}  // namespace
}  // namespace mq::testing
