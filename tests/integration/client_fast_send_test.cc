// The producer over brokers' fast send ports (fastListenPort): one connection per broker for
// every send, gRPC for a broker without the port, every send answered when a broker dies, the
// restarted broker's new port used; and the connection's own timeouts and failures.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "black_hole.h"
#include "broker_fixture.h"
#include "broker_ops.h"
#include "client_cluster.h"
#include "client_instance.h"
#include "common/io_executor.h"
#include "fast_send_connection.h"
#include "grpc_test_util.h"
#include "mq/client/producer.h"
#include "mq/client/pull_consumer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "transaction_producer_access.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::MakeMessage;
using mq::client::Producer;
using mq::client::ProducerAccess;
using mq::client::ProducerOptions;

bool CreateTopicOn(NamesrvProcess& ns, std::vector<BrokerProcess*> brokers, const std::string& topic) {
  for (auto* b : brokers) CreateTopic(*b, topic, 2);
  return WaitUntil([&] {
    mq::v1::TopicRouteData route;
    return QueryRoute(ns.stub(), topic, &route).ok() &&
           route.queue_datas_size() == static_cast<int>(brokers.size());
  });
}

ProducerOptions Options(const NamesrvProcess& ns) {
  ProducerOptions o;
  o.client.namesrv_addrs = {ns.address()};
  o.client.route_refresh_ms = 500;
  o.group = "fast_pg";
  return o;
}

TEST(ClientFastSendTest, SendsShareOneFastConnectionPerBrokerAndUseGrpcWhereThereIsNone) {
  TempDir dir;
  NamesrvProcess ns;
  ASSERT_TRUE(ns.started());
  BrokerProcess fast(BrokerOptions{ns.address(), dir.Sub("a"), "broker-a", {}});
  BrokerProcess plain(BrokerOptions{ns.address(), dir.Sub("b"), "broker-b", {"fastSendEnable=false"}});
  ASSERT_TRUE(fast.Start()) << fast.process().ReadLog();
  ASSERT_TRUE(plain.Start()) << plain.process().ReadLog();
  ASSERT_TRUE(CreateTopicOn(ns, {&fast, &plain}, "FastTopic"));
  Producer producer(Options(ns));
  ASSERT_TRUE(producer.Start().ok());
  std::set<std::string> brokers;
  for (int i = 0; i < 40; ++i) {
    auto r = producer.Send(MakeMessage("FastTopic", "m" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    brokers.insert(r->queue.broker_name);
  }
  EXPECT_EQ(brokers, (std::set<std::string>{"broker-a", "broker-b"}));
  EXPECT_EQ(ProducerAccess::Client(producer).FastSendConnectionsOpened(), 1);

  // Async sends and a batch ride the same connection.
  std::promise<void> all;
  std::atomic<int> left{50};
  std::atomic<int> failed{0};
  for (int i = 0; i < 50; ++i) {
    producer.SendAsync(MakeMessage("FastTopic", "a" + std::to_string(i)),
                       [&](mq::Result<mq::client::SendResult> r) {
                         if (!r.ok()) failed.fetch_add(1);
                         if (left.fetch_sub(1) == 1) all.set_value();
                       });
  }
  ASSERT_EQ(all.get_future().wait_for(20s), std::future_status::ready);
  EXPECT_EQ(failed.load(), 0);
  auto batch = producer.SendBatch({MakeMessage("FastTopic", "b1"), MakeMessage("FastTopic", "b2")});
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(ProducerAccess::Client(producer).FastSendConnectionsOpened(), 1);
  producer.Shutdown();
}

TEST(ClientFastSendTest, SendsInFlightWhenTheBrokerIsKilledAllHearBackAndItsRestartIsUsed) {
  TempDir dir;
  NamesrvProcess ns;
  ASSERT_TRUE(ns.started());
  BrokerProcess broker(BrokerOptions{ns.address(), dir.Sub("a"), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_TRUE(CreateTopicOn(ns, {&broker}, "KillTopic"));
  auto options = Options(ns);
  options.send_timeout_ms = 3000;
  Producer producer(options);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(MakeMessage("KillTopic", "warm")).ok());

  constexpr int kSends = 300;
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::promise<void> all;
  auto send = [&] {
    producer.SendAsync(MakeMessage("KillTopic", std::string(512, 'k')),
                       [&](mq::Result<mq::client::SendResult> r) {
                         if (!r.ok()) failed.fetch_add(1);
                         if (answered.fetch_add(1) + 1 == kSends) all.set_value();
                       });
  };
  for (int i = 0; i < kSends / 3; ++i) send();
  ASSERT_TRUE(WaitUntil([&] { return answered.load() == kSends / 3; }, 20s));
  EXPECT_EQ(failed.load(), 0);
  for (int i = kSends / 3; i < kSends; ++i) {
    send();
    if (i == kSends / 2) broker.process().Signal(SIGKILL);  // with sends in flight
  }
  // Each send hears back once, success or error, within its send timeout (and a margin).
  ASSERT_EQ(all.get_future().wait_for(20s), std::future_status::ready) << answered.load() << " answered";
  EXPECT_EQ(answered.load(), kSends);
  EXPECT_GT(failed.load(), 0);

  broker.process().Wait(10s);
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();  // a new port, a new fast port
  ASSERT_TRUE(WaitUntil([&] { return producer.Send(MakeMessage("KillTopic", "again")).ok(); }, 30s));
  EXPECT_GE(ProducerAccess::Client(producer).FastSendConnectionsOpened(), 2);
  producer.Shutdown();
}

// One NameServer, one broker holding the test's topic and a started producer: the consumer
// tests' cluster. fast_port is the broker's fast port.
class ClientFastConsumeTest : public ::testing::Test {
 protected:
  void Start(const std::string& topic) {
    ASSERT_TRUE(ns.started());
    broker = std::make_unique<BrokerProcess>(BrokerOptions{ns.address(), dir.Sub("a"), "broker-a", {}});
    ASSERT_TRUE(broker->Start()) << broker->process().ReadLog();
    ASSERT_TRUE(CreateTopicOn(ns, {broker.get()}, topic));
    const std::string& addr = broker->fast_address();
    fast_port = static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    ASSERT_TRUE(producer.Start().ok());
  }

  TempDir dir;
  NamesrvProcess ns;
  std::unique_ptr<BrokerProcess> broker;
  uint16_t fast_port = 0;
  Producer producer{Options(ns)};
};

// A push consumer pulls over the broker's fast port (one connection of its own there) unless
// told not to; either way it gets every message once, and its parked pulls do not hold up its
// shutdown.
TEST_F(ClientFastConsumeTest, APushConsumerPullsOverTheFastPortAndStopsPromptly) {
  ASSERT_NO_FATAL_FAILURE(Start("PullTopic"));
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i)
    ASSERT_TRUE(producer.Send(MakeMessage("PullTopic", std::to_string(i))).ok());
  const int producer_connections = EstablishedConnectionsTo(fast_port);
  for (bool fast : {true, false}) {
    mq::client::PushConsumerOptions o;
    o.client.namesrv_addrs = {ns.address()};
    o.client.fast_send = fast;
    o.group = fast ? "fast_pull_group" : "grpc_pull_group";
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.pull_suspend_ms = 10'000;  // parked pulls outlast the test unless shutdown cancels them
    o.offset_dir = dir.Sub(o.group);
    mq::client::PushConsumer consumer(o);
    std::mutex mu;
    std::set<std::string> seen;
    ASSERT_TRUE(consumer.Subscribe("PullTopic", "*").ok());
    consumer.RegisterListener([&](const std::vector<mq::client::ReceivedMessage>& msgs) {
      std::lock_guard lock(mu);
      for (const auto& m : msgs) seen.insert(m.message.body);
      return mq::client::ConsumeResult::kSuccess;
    });
    ASSERT_TRUE(consumer.Start().ok());
    ASSERT_TRUE(WaitUntil(
        [&] {
          std::lock_guard lock(mu);
          return seen.size() == static_cast<size_t>(kMessages);
        },
        20s));
    EXPECT_EQ(EstablishedConnectionsTo(fast_port), producer_connections + (fast ? 1 : 0)) << "fast=" << fast;
    const auto stop = std::chrono::steady_clock::now();
    consumer.Shutdown();
    EXPECT_LT(std::chrono::steady_clock::now() - stop, 5s)
        << "a parked pull held up the shutdown, fast=" << fast;
  }
  producer.Shutdown();
}

// The lite pull consumer polls over the fast port too (one connection of its own there) unless
// told not to, and reads the same messages either way, tag filter included.
TEST_F(ClientFastConsumeTest, APullConsumerPollsOverTheFastPortUnlessToldNot) {
  ASSERT_NO_FATAL_FAILURE(Start("PollTopic"));
  constexpr int kMessages = 60;
  for (int i = 0; i < kMessages; ++i) {
    auto m = MakeMessage("PollTopic", std::to_string(i));
    m.tags = i % 3 == 0 ? "Keep" : "Skip";
    ASSERT_TRUE(producer.Send(m).ok());
  }
  const int producer_connections = EstablishedConnectionsTo(fast_port);
  for (bool fast : {true, false}) {
    mq::client::PullConsumerOptions o;
    o.client.namesrv_addrs = {ns.address()};
    o.client.fast_send = fast;
    o.group = fast ? "fast_poll_group" : "grpc_poll_group";
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    mq::client::PullConsumer consumer(o);
    ASSERT_TRUE(consumer.Start().ok());
    ASSERT_TRUE(consumer.Subscribe("PollTopic", mq::client::MessageSelector::ByTag("Keep")).ok());
    std::set<std::string> seen;
    ASSERT_TRUE(PollUntilSeen(consumer, &seen, static_cast<size_t>(kMessages / 3)));
    EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages / 3)) << "fast=" << fast;
    EXPECT_EQ(seen.count("0"), 1u);
    EXPECT_EQ(seen.count("1"), 0u);
    EXPECT_EQ(EstablishedConnectionsTo(fast_port), producer_connections + (fast ? 1 : 0)) << "fast=" << fast;
    // A long poll of a drained topic ends empty at its timeout.
    auto empty = consumer.Poll(300);
    ASSERT_TRUE(empty.ok()) << empty.status().ToString();
    EXPECT_TRUE(empty->empty());
    consumer.Shutdown();
  }
  producer.Shutdown();
}

TEST(FastSendConnectionTest, ACallThatIsNeverAnsweredTimesOutAndARefusedConnectionFailsAtOnce) {
  IoExecutor io("fast-test", 1);
  io.Start();
  BlackHoleListener hole;
  ASSERT_TRUE(hole.ok());
  auto silent = mq::client::FastSendConnection::Open(io.context(), hole.address());
  std::promise<mq::Status> timed_out;
  const auto start = std::chrono::steady_clock::now();
  silent->Call(frame::Method::kSendMessage, {"request"}, 300,
               [&](mq::Result<std::string_view> r) { timed_out.set_value(r.status()); });
  auto f = timed_out.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  mq::Status s = f.get();
  EXPECT_EQ(s.code(), mq::StatusCode::kTimeout) << s.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_FALSE(silent->broken());  // a slow call does not condemn the connection

  // A port nobody listens on (the black hole's, once closed).
  std::string closed_addr;
  {
    BlackHoleListener gone;
    closed_addr = gone.address();
  }
  auto refused = mq::client::FastSendConnection::Open(io.context(), closed_addr);
  std::promise<mq::Status> failed;
  refused->Call(frame::Method::kSendMessage, {"request"}, 10'000,
                [&](mq::Result<std::string_view> r) { failed.set_value(r.status()); });
  auto g = failed.get_future();
  ASSERT_EQ(g.wait_for(5s), std::future_status::ready);
  mq::Status why = g.get();
  EXPECT_EQ(why.code(), mq::StatusCode::kUnavailable) << why.ToString();
  EXPECT_NE(why.message().find("fast send to 127.0.0.1:"), std::string::npos) << why.ToString();
  EXPECT_TRUE(refused->broken());
  // Later calls on a broken connection fail at once, on the caller's thread, with the reason it
  // broke (a call made after the refusal, as the first one may be, reads the same).
  std::optional<mq::Status> later;
  refused->Call(frame::Method::kSendMessage, {"x"}, 1000,
                [&](mq::Result<std::string_view> r) { later = r.status(); });
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->ToString(), why.ToString());
  // More parts than a frame's write takes is the caller's error, answered at once.
  std::optional<mq::Status> too_many;
  silent->Call(frame::Method::kSendMessage, {"1", "2", "3", "4", "5", "6", "7", "8"}, 1000,
               [&](mq::Result<std::string_view> r) { too_many = r.status(); });
  ASSERT_TRUE(too_many.has_value());
  EXPECT_EQ(too_many->code(), mq::StatusCode::kInternal) << too_many->ToString();
  EXPECT_NE(too_many->message().find("8 parts, at most 7"), std::string::npos) << too_many->ToString();
  silent->Close();
  refused->Close();
  io.Shutdown();
}

// A listener whose accept queue is full drops further SYNs, as an unreachable host would:
// the connection gives up after its connect timeout, not TCP's minutes.
TEST(FastSendConnectionTest, AConnectThatIsNeverAnsweredFailsAfterItsTimeout) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // Fill the accept queue (nobody accepts).
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(c);
  }
  IoExecutor io("fast-test", 1);
  io.Start();
  auto conn =
      mq::client::FastSendConnection::Open(io.context(), "127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  std::promise<mq::Status> failed;
  const auto start = std::chrono::steady_clock::now();
  conn->Call(frame::Method::kSendMessage, {"x"}, 60'000,
             [&](mq::Result<std::string_view> r) { failed.set_value(r.status()); });
  auto f = failed.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  mq::Status why = f.get();
  EXPECT_EQ(why.code(), mq::StatusCode::kUnavailable) << why.ToString();
  EXPECT_NE(why.message().find("connect"), std::string::npos) << why.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(conn->broken());
  conn->Close();
  io.Shutdown();
  for (int c : fillers) ::close(c);
  ::close(listener);
}

TEST(FastSendConnectionTest, AClientFallsBackToGrpcForAWhileAfterAFastPortFailed) {
  mq::client::ClientOptions options;
  options.namesrv_addrs = {"127.0.0.1:1"};
  mq::client::ClientInstance client(options, 1);
  ASSERT_TRUE(client.Start().ok());
  std::string addr;
  {
    BlackHoleListener gone;
    addr = gone.address();
  }
  auto first = client.FastSend(addr);
  ASSERT_NE(first, nullptr);
  std::promise<void> done;
  first->Call(frame::Method::kSendMessage, {"x"}, 5000,
              [&](mq::Result<std::string_view>) { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(first->broken());
  EXPECT_EQ(client.FastSend(addr), nullptr);  // gRPC for now
  EXPECT_EQ(client.FastSendConnectionsOpened(), 1);
  client.Shutdown({}, {});
}

// A fast port that answers every request NOT_SUPPORTED, as a broker from before a method did:
// one connection, served by a thread until the destructor.
class NotSupportedFastPort {
 public:
  NotSupportedFastPort() {
    thread_ = std::thread([this] {
      pollfd p{hole_fd(), POLLIN, 0};
      int c = -1;
      while (!stop_ && c < 0) {
        if (::poll(&p, 1, 50) > 0) c = ::accept(hole_fd(), nullptr, nullptr);
      }
      std::string in;
      char buf[4096];
      while (!stop_ && c >= 0) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 50) <= 0) continue;
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        while (in.size() >= frame::kHeaderBytes) {
          auto h = frame::ReadHeader(in.data(), frame::kDefaultMaxFrameBytes);
          if (!h.ok() || in.size() < frame::kHeaderBytes + h->payload_bytes) break;
          in.erase(0, frame::kHeaderBytes + h->payload_bytes);
          ++requests_;
          frame::Header reply;
          reply.kind = frame::Kind::kResponse;
          reply.method = h->method;
          reply.code = mq::StatusCode::kNotSupported;
          reply.request_id = h->request_id;
          std::string out;
          frame::AppendFrame(reply, "frame.method: not served here", &out);
          if (::write(c, out.data(), out.size()) != static_cast<ssize_t>(out.size())) break;
        }
      }
      if (c >= 0) ::close(c);
    });
  }
  ~NotSupportedFastPort() {
    stop_ = true;
    thread_.join();
  }
  std::string address() const { return listener_.address(); }
  int requests() const { return requests_; }

 private:
  int hole_fd() const { return listener_.fd(); }
  BlackHoleListener listener_{/*accept=*/false};
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A commit sent to a fast port that does not take commits (kNotSupported) goes over gRPC.
TEST(FastSendConnectionTest, ACommitAFastPortDoesNotServeGoesOverGrpc) {
  ClientCluster cluster;
  ASSERT_TRUE(cluster.Start());
  ASSERT_TRUE(cluster.CreateTopic("FallbackTopic", 1, 1));
  NotSupportedFastPort old_port;
  mq::client::ClientInstance client(cluster.Client(), 1);
  ASSERT_TRUE(client.Start().ok());
  auto fast = client.FastSend(old_port.address());
  ASSERT_NE(fast, nullptr);
  std::promise<mq::Status> done;
  mq::client::CommitOffsetAsync(
      client, cluster.broker(0).address(), "g-fallback",
      mq::client::MessageQueue{"FallbackTopic", "broker-a", 0}, 7, [&](mq::Status s) { done.set_value(s); },
      fast);
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  mq::Status s = f.get();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(old_port.requests(), 1);
  mq::v1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("g-fallback");
  query.mutable_queue()->set_topic("FallbackTopic");
  query.mutable_queue()->set_queue_id(0);
  mq::v1::QueryConsumerOffsetResponse stored;
  ASSERT_GRPC_OK(
      Call(cluster.broker(0).messaging(), &mq::v1::Messaging::Stub::QueryConsumerOffset, query, &stored));
  EXPECT_EQ(stored.offset(), 7);
  client.Shutdown({}, {});
}

}  // namespace
}  // namespace mq::testing
