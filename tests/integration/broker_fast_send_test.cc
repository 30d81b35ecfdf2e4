// The broker's fast send port (fastListenPort) driven by a plain blocking socket that speaks
// common/frame.h: pipelined sends answered by request id, errors as statuses on a connection
// that stays open, frames that cannot be read answered with a reason and hung up on.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "common/coding.h"
#include "common/file_util.h"
#include "common/frame.h"
#include "common/message_record.h"
#include "frame_client.h"
#include "grpc_test_util.h"
#include "namesrv_fixture.h"
#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;

class BrokerFastSendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(BrokerOptions{"", dir_.path(), "broker-a", {}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    ASSERT_FALSE(broker_->fast_address().empty()) << "the ready file names no fast send port";
  }
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(BrokerFastSendTest, PipelinedSendsAreStoredAndEachAnsweredByItsRequestId) {
  CreateTopic(*broker_, "FastT", 1);
  FrameClient client(broker_->fast_address());
  ASSERT_TRUE(client.connected());
  constexpr int kSends = 50;
  std::string burst;
  for (int i = 0; i < kSends; ++i)
    burst += SendFrame(1000 + i, SendRequest("FastT", "body-" + std::to_string(i)));
  ASSERT_TRUE(client.Write(burst));  // all in flight at once, on one connection
  std::map<uint64_t, mq::v1::SendMessageResponse> replies;
  for (int i = 0; i < kSends; ++i) {
    auto f = client.ReadFrame();
    ASSERT_TRUE(f.has_value()) << "reply " << i << " missing";
    EXPECT_EQ(f->first.kind, frame::Kind::kResponse);
    ASSERT_EQ(f->first.code, StatusCode::kOk) << f->second;
    mq::v1::SendMessageResponse r;
    ASSERT_TRUE(r.ParseFromString(f->second));
    EXPECT_EQ(r.status(), mq::v1::SEND_OK);
    ASSERT_EQ(r.entries_size(), 1);
    replies[f->first.request_id] = r;
  }
  ASSERT_EQ(replies.size(), static_cast<size_t>(kSends));
  EXPECT_EQ(replies.begin()->first, 1000u);
  EXPECT_EQ(replies.rbegin()->first, 1000u + kSends - 1);
  // One queue: the offsets are those of the order they were sent in.
  for (const auto& [id, r] : replies) EXPECT_EQ(r.queue_offset(), static_cast<int64_t>(id - 1000));

  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "FastT", 0, kSends));
  std::vector<mq::v1::MessageExt> pulled;
  while (pulled.size() < static_cast<size_t>(kSends)) {
    mq::v1::PullMessageResponse r;
    ASSERT_GRPC_OK(Pull(broker_->messaging(), "g", "FastT", 0, static_cast<int64_t>(pulled.size()), &r));
    ASSERT_EQ(r.status(), mq::v1::FOUND);
    for (const auto& m : r.messages()) pulled.push_back(m);
  }
  ASSERT_EQ(pulled.size(), static_cast<size_t>(kSends));
  for (int i = 0; i < kSends; ++i) {
    const auto& m = pulled[static_cast<size_t>(i)];
    EXPECT_EQ(m.message().body(), "body-" + std::to_string(i));
    EXPECT_EQ(m.msg_id(), replies[1000 + i].entries(0).msg_id());
    // The born host the client sent is kept.
    EXPECT_EQ(m.message().born_host(), "127.0.0.1:5555");
  }
}

TEST_F(BrokerFastSendTest, PullsAreServedOnTheSamePortParkedOnesIncluded) {
  CreateTopic(*broker_, "PullT", 1);
  FrameClient client(broker_->fast_address());
  ASSERT_TRUE(client.connected());
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(client.Write(SendFrame(id, SendRequest("PullT", "p" + std::to_string(id)))));
    auto f = client.ReadFrame();
    ASSERT_TRUE(f.has_value());
    ASSERT_EQ(f->first.code, StatusCode::kOk) << f->second;
  }
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "PullT", 0, 3));
  auto pull = [](int64_t offset, int64_t hold_ms) {
    mq::v1::PullMessageRequest req;
    req.set_consumer_group("fast_group");
    req.set_topic("PullT");
    req.set_queue_id(0);
    req.set_queue_offset(offset);
    req.set_max_msg_nums(32);
    req.set_subscription("*");
    req.set_suspend_timeout_millis(hold_ms);
    return req.SerializeAsString();
  };
  ASSERT_TRUE(client.Write(SendFrame(10, pull(0, 0), frame::Method::kPullMessage)));
  auto found = client.ReadFrame();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->first.request_id, 10u);
  ASSERT_EQ(found->first.code, StatusCode::kOk) << found->second;
  mq::v1::PullMessageResponse r;
  ASSERT_TRUE(r.ParseFromString(found->second));
  EXPECT_EQ(r.status(), mq::v1::FOUND);
  ASSERT_EQ(r.messages_size(), 3);
  EXPECT_EQ(r.messages(2).message().body(), "p3");
  EXPECT_EQ(r.next_begin_offset(), 3);

  // As our consumer asks: the stored records, and the reply's bytes exactly what protobuf writes
  // (the broker serializes the fields before the records and writes the records after them).
  mq::v1::PullMessageRequest with_records;
  ASSERT_TRUE(with_records.ParseFromString(pull(0, 0)));
  with_records.set_accept_records(true);
  ASSERT_TRUE(client.Write(SendFrame(9, with_records.SerializeAsString(), frame::Method::kPullMessage)));
  auto as_records = client.ReadFrame();
  ASSERT_TRUE(as_records.has_value());
  ASSERT_EQ(as_records->first.code, StatusCode::kOk) << as_records->second;
  ASSERT_TRUE(r.ParseFromString(as_records->second));
  EXPECT_EQ(r.SerializeAsString(), as_records->second);
  EXPECT_EQ(r.status(), mq::v1::FOUND);
  EXPECT_EQ(r.next_begin_offset(), 3);
  std::vector<std::string> bodies;
  ASSERT_TRUE(
      mq::record::ForEachRecord(r.records(), /*verify_crc=*/true, [&](const mq::record::RecordView& v) {
        bodies.emplace_back(v.body);
      }).ok());
  EXPECT_EQ(bodies, (std::vector<std::string>{"p1", "p2", "p3"}));

  // Parked until a message arrives; a send on the same connection meanwhile is answered first.
  ASSERT_TRUE(client.Write(SendFrame(11, pull(3, 10'000), frame::Method::kPullMessage)));
  ASSERT_TRUE(client.Write(SendFrame(12, SendRequest("PullT", "late"))));
  std::map<uint64_t, std::pair<frame::Header, std::string>> replies;
  for (int i = 0; i < 2; ++i) {
    auto f = client.ReadFrame();
    ASSERT_TRUE(f.has_value());
    replies[f->first.request_id] = *f;
  }
  ASSERT_EQ(replies.count(11), 1u);
  ASSERT_EQ(replies.count(12), 1u);
  ASSERT_EQ(replies[11].first.code, StatusCode::kOk) << replies[11].second;
  ASSERT_TRUE(r.ParseFromString(replies[11].second));
  EXPECT_EQ(r.status(), mq::v1::FOUND);
  ASSERT_EQ(r.messages_size(), 1);
  EXPECT_EQ(r.messages(0).message().body(), "late");

  // A pull request that is no PullMessageRequest is refused naming it.
  ASSERT_TRUE(client.Write(SendFrame(13, "\xff\xff garbage", frame::Method::kPullMessage)));
  auto bad = client.ReadFrame();
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->first.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(bad->second.rfind("request:", 0), 0u) << bad->second;
}

TEST_F(BrokerFastSendTest, FramesSplitAnywhereAcrossReadsAreReassembled) {
  FrameClient client(broker_->fast_address());
  ASSERT_TRUE(client.connected());
  std::string stream;
  for (uint64_t id = 1; id <= 3; ++id)
    stream += SendFrame(id, SendRequest("Split", "body-" + std::to_string(id)));
  // Pieces of 1..7 bytes, each its own segment (TCP_NODELAY), header and payload cut anywhere.
  client.NoDelay();
  for (size_t at = 0, piece = 1; at < stream.size(); at += piece, piece = piece % 7 + 1) {
    ASSERT_TRUE(client.Write(stream.substr(at, piece)));
  }
  std::set<uint64_t> answered;
  for (int i = 0; i < 3; ++i) {
    auto f = client.ReadFrame();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->first.code, StatusCode::kOk) << f->second;
    answered.insert(f->first.request_id);
  }
  EXPECT_EQ(answered, (std::set<uint64_t>{1, 2, 3}));
}

TEST_F(BrokerFastSendTest, RefusedRequestsAreAnsweredWithAStatusAndTheConnectionStaysOpen) {
  FrameClient client(broker_->fast_address());
  ASSERT_TRUE(client.connected());
  auto expect_error = [&](uint64_t id, const std::string& frame_bytes, StatusCode code,
                          const std::string& prefix) {
    ASSERT_TRUE(client.Write(frame_bytes));
    auto f = client.ReadFrame();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->first.request_id, id);
    EXPECT_EQ(f->first.code, code) << f->second;
    EXPECT_EQ(f->second.rfind(prefix, 0), 0u) << f->second;
  };
  expect_error(1, SendFrame(1, SendRequest("T", "x"), static_cast<frame::Method>(77)),
               StatusCode::kNotSupported, "frame.method");
  expect_error(2, SendFrame(2, "\xff\xff\xff garbage"), StatusCode::kInvalidArgument, "request:");
  expect_error(3, SendFrame(3, SendRequest("bad topic!", "x")), StatusCode::kInvalidArgument, "topic");
  mq::v1::SendMessageRequest empty;
  empty.set_topic("T");
  expect_error(4, SendFrame(4, empty.SerializeAsString()), StatusCode::kInvalidArgument, "messages");
  // Still open: a good send on the same connection goes through.
  ASSERT_TRUE(client.Write(SendFrame(5, SendRequest("StillOpen", "ok"))));
  auto f = client.ReadFrame();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->first.request_id, 5u);
  EXPECT_EQ(f->first.code, StatusCode::kOk) << f->second;
}

// A lite pull consumer's commits (UpdateConsumerOffset, method 3) go over the same port: the
// offset is stored as over gRPC, and a bad one is refused naming its field.
TEST_F(BrokerFastSendTest, OffsetCommitsAreStoredOverTheSamePortAndBadOnesRefusedNamingTheField) {
  FrameClient client(broker_->fast_address());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Write(SendFrame(1, SendRequest("CommitTopic", "m"))));  // creates the topic
  auto sent = client.ReadFrame();
  ASSERT_TRUE(sent.has_value());
  ASSERT_EQ(sent->first.code, StatusCode::kOk) << sent->second;
  auto commit = [](const std::string& group, const std::string& topic, int32_t queue_id, int64_t offset) {
    mq::v1::UpdateConsumerOffsetRequest r;
    r.set_consumer_group(group);
    r.mutable_queue()->set_topic(topic);
    r.mutable_queue()->set_queue_id(queue_id);
    r.set_offset(offset);
    return r.SerializeAsString();
  };
  ASSERT_TRUE(client.Write(
      SendFrame(2, commit("g-fast", "CommitTopic", 0, 1), frame::Method::kUpdateConsumerOffset)));
  auto ok = client.ReadFrame();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->first.request_id, 2u);
  EXPECT_EQ(ok->first.kind, frame::Kind::kResponse);
  ASSERT_EQ(ok->first.code, StatusCode::kOk) << ok->second;
  EXPECT_TRUE(ok->second.empty());
  mq::v1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("g-fast");
  query.mutable_queue()->set_topic("CommitTopic");
  query.mutable_queue()->set_queue_id(0);
  mq::v1::QueryConsumerOffsetResponse stored;
  ASSERT_GRPC_OK(Call(broker_->messaging(), &mq::v1::Messaging::Stub::QueryConsumerOffset, query, &stored));
  EXPECT_EQ(stored.offset(), 1);

  auto expect_error = [&](uint64_t id, const std::string& payload, StatusCode code,
                          const std::string& prefix) {
    ASSERT_TRUE(client.Write(SendFrame(id, payload, frame::Method::kUpdateConsumerOffset)));
    auto f = client.ReadFrame();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->first.request_id, id);
    EXPECT_EQ(f->first.code, code) << f->second;
    EXPECT_EQ(f->second.rfind(prefix, 0), 0u) << f->second;
  };
  expect_error(3, "\xff\xff\xff garbage", StatusCode::kInvalidArgument, "request:");
  expect_error(4, commit("g-fast", "CommitTopic", 0, -1), StatusCode::kInvalidArgument, "offset");
  expect_error(5, commit("bad group!", "CommitTopic", 0, 1), StatusCode::kInvalidArgument, "consumer_group");
  expect_error(6, commit("g-fast", "NoSuchTopic", 0, 1), StatusCode::kNotFound, "queue.topic");
  ASSERT_GRPC_OK(Call(broker_->messaging(), &mq::v1::Messaging::Stub::QueryConsumerOffset, query, &stored));
  EXPECT_EQ(stored.offset(), 1) << "a refused commit changed the offset";
}

TEST_F(BrokerFastSendTest, AnUnreadableFrameIsAnsweredWithTheReasonAndTheConnectionClosed) {
  {
    FrameClient http2(broker_->fast_address());  // e.g. a gRPC client pointed at the wrong port
    ASSERT_TRUE(http2.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    EXPECT_TRUE(RefusedThenHungUp(http2, "frame."));
  }
  {
    FrameClient huge(broker_->fast_address());
    std::string frame_bytes = SendFrame(9, "x");
    EncodeFixed32BE(frame_bytes.data(), 0x7fffffff);  // 2 GiB announced: refused before any allocation
    ASSERT_TRUE(huge.Write(frame_bytes));
    EXPECT_TRUE(RefusedThenHungUp(huge, "frame.length"));
  }
  {
    // A response sent to the broker (a peer that mixed up its ends): said, then hung up on.
    FrameClient confused(broker_->fast_address());
    frame::Header h;
    h.kind = frame::Kind::kResponse;
    h.request_id = 12;
    std::string frame_bytes;
    frame::AppendFrame(h, "", &frame_bytes);
    ASSERT_TRUE(confused.Write(frame_bytes));
    EXPECT_TRUE(RefusedThenHungUp(confused, "frame.kind"));
  }
  {
    // Half a frame, then gone: nothing to answer, nothing held.
    FrameClient half(broker_->fast_address());
    std::string frame_bytes = SendFrame(10, SendRequest("Half", "x"));
    ASSERT_TRUE(half.Write(frame_bytes.substr(0, frame_bytes.size() / 2)));
  }
  FrameClient next(broker_->fast_address());
  ASSERT_TRUE(next.Write(SendFrame(11, SendRequest("AfterBad", "ok"))));
  auto f = next.ReadFrame();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->first.code, StatusCode::kOk) << f->second;
  EXPECT_TRUE(broker_->process().running());
}

// A frame larger than the read buffer is leased from sendRequestMemoryQuota before it is
// buffered: with the budget spent by one connection's half-sent 3 MiB frame, another's is
// refused at once and its bytes skipped, and that connection goes on with its next frame.
TEST(BrokerFastSendBudgetTest, ALargeFramePastTheSendBudgetIsRefusedAndSkipped) {
  TempDir dir;
  BrokerProcess broker(BrokerOptions{
      "",
      dir.path(),
      "broker-a",
      {"sendRequestMemoryQuota=4194304", "maxMessageSize=4194304", "mappedFileSizeCommitLog=16777216"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  CreateTopic(broker, "BigT", 1);
  const std::string big = SendFrame(1, SendRequest("BigT", std::string(3 * 1024 * 1024, 'b')));
  FrameClient a(broker.fast_address());
  FrameClient b(broker.fast_address());
  ASSERT_TRUE(a.Write(big.substr(0, big.size() / 2)));
  ASSERT_TRUE(b.Write(big.substr(0, big.size() / 2)));
  // Whichever header the broker reads second finds the budget spent and is answered at once.
  FrameClient* refused = nullptr;
  ASSERT_TRUE(WaitUntil(
      [&] {
        refused = a.Readable() ? &a : b.Readable() ? &b : nullptr;
        return refused != nullptr;
      },
      10s));
  FrameClient* leased = refused == &a ? &b : &a;
  auto reply = refused->ReadFrame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->first.request_id, 1u);
  EXPECT_EQ(reply->first.code, StatusCode::kResourceExhausted) << reply->second;
  EXPECT_NE(reply->second.find("sendRequestMemoryQuota"), std::string::npos) << reply->second;
  // The rest of the refused frame is skipped; the next frame on that connection is read in step.
  ASSERT_TRUE(refused->Write(big.substr(big.size() / 2) + SendFrame(2, SendRequest("BigT", "small"))));
  auto small = refused->ReadFrame();
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->first.request_id, 2u);
  EXPECT_EQ(small->first.code, StatusCode::kOk) << small->second;
  ASSERT_TRUE(leased->Write(big.substr(big.size() / 2)));
  auto stored = leased->ReadFrame();
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->first.request_id, 1u);
  EXPECT_EQ(stored->first.code, StatusCode::kOk) << stored->second;
}

TEST(BrokerFastSendCongestionTest, AClientThatStopsReadingHoldsBoundedMemoryAndItsResetFreesIt) {
  // A client that pipelines pulls and never reads their replies: the broker stops handling its
  // frames once its replies are not taken, pull replies stay within pullResponseMemoryQuota,
  // other clients' sends are not refused for it, and its reset (SO_LINGER 0, while the broker
  // is not reading it) closes the connection and frees all of it.
  TempDir dir;
  BrokerProcess broker(BrokerOptions{"",
                                     dir.path(),
                                     "broker-a",
                                     {"sendRequestMemoryQuota=8388608", "pullResponseMemoryQuota=8388608",
                                      "mappedFileSizeCommitLog=16777216"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  CreateTopic(broker, "CongT", 1);
  FrameClient b(broker.fast_address());
  constexpr int kBacklog = 8;  // 8 x 256 KiB: every pull from offset 0 answers 2 MiB
  for (int i = 0; i < kBacklog; ++i) {
    ASSERT_TRUE(b.Write(SendFrame(100 + i, SendRequest("CongT", std::string(256 * 1024, 'a' + i)))));
    auto reply = b.ReadFrame();
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->first.code, StatusCode::kOk) << reply->second;
  }
  auto pull = [] {
    mq::v1::PullMessageRequest req;
    req.set_consumer_group("cong_group");
    req.set_topic("CongT");
    req.set_queue_id(0);
    req.set_queue_offset(0);
    req.set_max_msg_nums(1024);
    req.set_subscription("*");
    req.set_standing_replies(8);
    return req.SerializeAsString();
  };
  const pid_t pid = broker.process().pid();
  auto open_fds = [pid] {
    std::error_code ec;
    auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
    return std::distance(it, std::filesystem::directory_iterator());
  };
  const auto fds_before = open_fds();
  const int64_t rss_before = ProcStatusBytes(pid, "RssAnon");
  {
    FrameClient a(broker.fast_address(), /*receive_buffer=*/4096);
    ASSERT_TRUE(a.connected());
    std::string burst;
    for (uint64_t id = 1; id <= 400; ++id) burst += SendFrame(id, pull(), frame::Method::kPullMessage);
    a.WriteWithin(burst, 3s);  // the broker stops reading it long before 400 x 2 MiB
    int64_t rss_most = 0;
    const auto until = std::chrono::steady_clock::now() + 3s;  // sampled, not waited on
    while (std::chrono::steady_clock::now() < until) {
      rss_most = std::max(rss_most, ProcStatusBytes(pid, "RssAnon"));
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_LT(rss_most - rss_before, int64_t{64} << 20) << "RssAnon " << rss_before << " -> " << rss_most;
    // The stuck consumer's replies are not charged to other clients' sends.
    ASSERT_TRUE(b.Write(SendFrame(200, SendRequest("CongT", "small"))));
    auto sent = b.ReadFrame();
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(sent->first.code, StatusCode::kOk) << sent->second;
    a.Reset();
  }
  EXPECT_TRUE(WaitUntil([&] { return open_fds() <= fds_before; }, 10s))
      << open_fds() << " descriptors open, " << fds_before << " before";
  // Its pull replies' leases went with it: a 2 MiB pull is served.
  mq::v1::PullMessageRequest req;
  ASSERT_TRUE(req.ParseFromString(pull()));
  req.set_standing_replies(0);
  ASSERT_TRUE(b.Write(SendFrame(300, req.SerializeAsString(), frame::Method::kPullMessage)));
  auto pulled = b.ReadFrame();
  ASSERT_TRUE(pulled.has_value());
  EXPECT_EQ(pulled->first.code, StatusCode::kOk) << pulled->second;
}

TEST(BrokerFastSendDescriptorsTest, OutOfDescriptorsTheAcceptLoopWaitsInsteadOfSpinning) {
  // With the broker at its descriptor limit, every accept fails (EMFILE) at once: tried again at
  // once, the IO thread spun a whole core. Connections wait in the backlog and are served once
  // descriptors are free.
  TempDir dir;
  BrokerProcess broker(BrokerOptions{"", dir.path(), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  CreateTopic(broker, "FdT", 1);
  const pid_t pid = broker.process().pid();
  auto open_fds = [pid] {
    std::error_code ec;
    auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
    return static_cast<rlim_t>(std::distance(it, std::filesystem::directory_iterator()));
  };
  rlimit old_limit{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old_limit), 0);
  const rlimit tight{open_fds() + 8, old_limit.rlim_max};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0) << std::strerror(errno);
  std::vector<std::unique_ptr<FrameClient>> clients;
  for (int i = 0; i < 24; ++i) clients.push_back(std::make_unique<FrameClient>(broker.fast_address()));
  ASSERT_TRUE(WaitUntil([&] { return open_fds() >= tight.rlim_cur; }, 10s));
  auto cpu_ticks = [pid] {  // utime + stime, fields 14 and 15 of /proc/<pid>/stat
    auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
    if (!stat.ok()) return int64_t{-1};
    std::istringstream in(stat->substr(stat->rfind(')') + 2));
    std::string field;
    int64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    return utime + stime;
  };
  const int64_t before = cpu_ticks();
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 2s) std::this_thread::sleep_for(100ms);  // sampled
  const int64_t used = cpu_ticks() - before;
  const int64_t ticks_per_second = ::sysconf(_SC_CLK_TCK);
  EXPECT_LT(used, ticks_per_second / 2) << used << " ticks of CPU in 2 s at the descriptor limit";
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &old_limit, nullptr), 0);
  // Every connection is served once descriptors are free, the last one accepted included. (An
  // offset commit: the store may have turned read-only, failing to write at the limit.)
  mq::v1::UpdateConsumerOffsetRequest commit;
  commit.set_consumer_group("g-fd");
  commit.mutable_queue()->set_topic("FdT");
  commit.mutable_queue()->set_queue_id(0);
  commit.set_offset(0);
  ASSERT_TRUE(
      clients.back()->Write(SendFrame(1, commit.SerializeAsString(), frame::Method::kUpdateConsumerOffset)));
  auto reply = clients.back()->ReadFrame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->first.code, StatusCode::kOk) << reply->second;
}

TEST(BrokerFastSendThreadsTest, ServerSelectorThreadsSetsTheIoThreadsHalfTheCoresByDefault) {
  TempDir dir;
  BrokerProcess two(BrokerOptions{"", dir.path() + "/a", "broker-a", {"serverSelectorThreads=2"}});
  BrokerProcess one(BrokerOptions{"", dir.path() + "/b", "broker-b", {"serverSelectorThreads=1"}});
  ASSERT_TRUE(two.Start()) << two.process().ReadLog();
  BrokerProcess automatic(BrokerOptions{"", dir.path() + "/c", "broker-c", {}});
  ASSERT_TRUE(one.Start()) << one.process().ReadLog();
  ASSERT_TRUE(automatic.Start()) << automatic.process().ReadLog();
  EXPECT_EQ(ThreadNames(two.process().pid())["mq-fast-io"], 2);
  EXPECT_EQ(ThreadNames(automatic.process().pid())["mq-fast-io"],
            std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2)));  // the default
  EXPECT_EQ(ThreadNames(one.process().pid())["mq-fast-io"], 1);
  // The one thread serves several connections at once, each answered on its own.
  CreateTopic(one, "OneT", 1);
  std::vector<std::unique_ptr<FrameClient>> clients;
  for (int c = 0; c < 3; ++c) {
    clients.push_back(std::make_unique<FrameClient>(one.fast_address()));
    ASSERT_TRUE(clients.back()->connected());
    ASSERT_TRUE(clients.back()->Write(SendFrame(10 + c, SendRequest("OneT", "from-" + std::to_string(c)))));
  }
  for (int c = 0; c < 3; ++c) {
    auto reply = clients[static_cast<size_t>(c)]->ReadFrame();
    ASSERT_TRUE(reply.has_value()) << "connection " << c;
    EXPECT_EQ(reply->first.request_id, static_cast<uint64_t>(10 + c));
    EXPECT_EQ(reply->first.code, StatusCode::kOk) << reply->second;
  }
}

TEST(BrokerFastSendThreadsTest, AnOutOfRangeThreadCountIsRefusedNamingTheKey) {
  TempDir dir;
  BrokerProcess none(BrokerOptions{"", dir.path(), "broker-a", {"serverSelectorThreads=65"}});
  EXPECT_FALSE(none.Start());
  EXPECT_NE(none.process().ReadLog().find("serverSelectorThreads"), std::string::npos)
      << none.process().ReadLog();
}

TEST(BrokerFastSendRouteTest, TheRouteAdvertisesTheFastPortUnlessItIsOff) {
  TempDir dir;
  NamesrvProcess ns;
  ASSERT_TRUE(ns.started());
  BrokerProcess on(
      BrokerOptions{ns.address(), dir.path() + "/a", "broker-a", {"autoCreateTopicEnable=true"}});
  BrokerProcess off(BrokerOptions{ns.address(), dir.path() + "/b", "broker-b", {"fastSendEnable=false"}});
  ASSERT_TRUE(on.Start()) << on.process().ReadLog();
  ASSERT_TRUE(off.Start()) << off.process().ReadLog();
  EXPECT_FALSE(on.fast_address().empty());
  EXPECT_TRUE(off.fast_address().empty());
  CreateTopic(on, "RouteT", 1);
  CreateTopic(off, "RouteT", 1);
  mq::v1::TopicRouteData route;
  ASSERT_TRUE(WaitUntil(
      [&] { return QueryRoute(ns.stub(), "RouteT", &route).ok() && route.broker_datas_size() == 2; }, 20s));
  for (const auto& bd : route.broker_datas()) {
    if (bd.broker_name() == "broker-a") {
      ASSERT_EQ(bd.fast_send_addrs().count(0), 1u);
      EXPECT_EQ(bd.fast_send_addrs().at(0), on.fast_address());
    } else {
      EXPECT_TRUE(bd.fast_send_addrs().empty());
    }
  }
}

}  // namespace
}  // namespace mq::testing
