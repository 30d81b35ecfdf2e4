// HaService (the master's replication service) with a real store, driven by a hand-written
// slave over a loopback Replicate stream: which acks count for SYNC_MASTER, and how a refused
// slave is reported.
#include "broker/ha/ha_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "broker/ha/handshake.h"
#include "broker/store/message_store.h"
#include "mq/v1/ha.grpc.pb.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "unit/store/store_test_util.h"

namespace mq::ha {
namespace {

using namespace std::chrono_literals;
using mq::testing::TempDir;
using mq::testing::WaitUntil;
using store::PutStatus;
using store::testing::Msg;
using store::testing::PutSync;
using store::testing::SmallOptions;

constexpr int32_t kSegment = 64 * 1024;

// One Replicate stream, as a slave opens it.
class FakeSlave {
 public:
  explicit FakeSlave(int port)
      : stub_(mq::v1::Replication::NewStub(
            grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()))) {
    ctx_.set_deadline(std::chrono::system_clock::now() + 30s);
    stream_ = stub_->Replicate(&ctx_);
  }
  ~FakeSlave() {
    if (finished_) return;
    ctx_.TryCancel();
    (void)stream_->Finish();
  }
  // Sends the first report for a log ending at `end` with `anchor` (nullptr: empty log) and
  // returns the master's handshake reply.
  mq::v1::HandshakeReply Open(int64_t end, const store::RecordAnchor* anchor, int32_t segment = kSegment) {
    mq::v1::SlaveReport first;
    first.set_broker_name("broker-a");
    first.set_broker_id(1);
    first.set_slave_addr("127.0.0.1:7");
    first.set_max_phy_offset(end);
    *first.mutable_handshake() = MakeHandshake(segment, anchor);
    EXPECT_TRUE(stream_->Write(first));
    mq::v1::LogChunk reply;
    EXPECT_TRUE(stream_->Read(&reply));
    return reply.handshake();
  }
  bool Ack(int64_t offset) {
    mq::v1::SlaveReport r;
    r.set_max_phy_offset(offset);
    return stream_->Write(r);
  }
  // Reads chunks until `bytes` of log data arrived; returns them.
  std::string ReadData(size_t bytes) {
    std::string data;
    mq::v1::LogChunk chunk;
    while (data.size() < bytes && stream_->Read(&chunk)) data += chunk.data();
    return data;
  }
  grpc::Status Finish() {
    finished_ = true;
    return stream_->Finish();
  }

 private:
  std::unique_ptr<mq::v1::Replication::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<mq::v1::SlaveReport, mq::v1::LogChunk>> stream_;
  bool finished_ = false;
};

class HaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.Start().ok());
    ASSERT_TRUE(topics_.Load().ok());
    ha_ = std::make_unique<HaService>(HaService::Options{"127.0.0.1", 0, "broker-a"}, &store_,
                                      MetadataManagers{&topics_, &groups_, &offsets_});
    ASSERT_TRUE(ha_->Start().ok());
  }
  void TearDown() override {
    ha_->Shutdown();
    store_.Shutdown();
  }

  // What a SYNC_MASTER send of bytes up to `end` would be answered.
  PutStatus WaitForSlaves(int64_t end, std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<PutStatus>>();
    auto future = promise->get_future();
    ha_->WaitForSlaves(end, timeout, [promise](PutStatus s) { promise->set_value(s); });
    if (future.wait_for(timeout + 10s) != std::future_status::ready) return PutStatus::kUnknownError;
    return future.get();
  }
  int64_t Append() {
    auto r = PutSync(store_, Msg("T", 0, std::string(700, 'x')));
    EXPECT_TRUE(r.ok()) << r.error;
    ha_->NotifyAppended();
    return r.physical_offset + r.wrote_bytes;
  }
  std::map<std::string, std::string> Info() const {
    std::map<std::string, std::string> t;
    ha_->AddRuntimeInfo(&t);
    return t;
  }

  TempDir dir_;
  store::MessageStore store_{SmallOptions(dir_.Sub("store"))};
  broker::TopicConfigManager topics_{
      dir_.Sub("config"), {"DefaultCluster", "broker-a"}, SystemClock::Default()};
  broker::SubscriptionGroupManager groups_{dir_.Sub("config")};
  broker::ConsumerOffsetManager offsets_{dir_.Sub("config")};
  std::unique_ptr<HaService> ha_;
};

// Before: GetMetadata adopted the consumer offsets of any caller naming the broker set, without
// bound: anyone reaching the replication port (or a stale slave) could move a group past every
// message. Now only a slave with an accepted stream, and never past the master's queue.
TEST_F(HaServiceTest, AdoptsOffsetsOnlyFromAnAcceptedSlaveAndNeverPastTheQueue) {
  Append();  // T-0 holds one message
  auto stub = mq::v1::Replication::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(ha_->port()), grpc::InsecureChannelCredentials()));
  auto sync = [&](int64_t offset) {
    mq::v1::GetMetadataRequest req;
    req.set_broker_name("broker-a");
    req.set_broker_id(1);
    (*(*req.mutable_slave_offsets()->mutable_offset_table())["T@g"].mutable_offsets())[0] = offset;
    mq::v1::GetMetadataResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return stub->GetMetadata(&ctx, req, &resp);
  };
  ASSERT_TRUE(sync(1).ok());
  EXPECT_FALSE(offsets_.Query("g", "T", 0).has_value()) << "taken from a broker id with no stream";
  FakeSlave slave(ha_->port());
  ASSERT_EQ(slave.Open(0, nullptr).status(), mq::v1::HANDSHAKE_ACCEPTED);
  ASSERT_TRUE(WaitUntil([&] { return ha_->Slaves().size() == 1; }));
  ASSERT_TRUE(sync(int64_t{1} << 40).ok());
  EXPECT_EQ(offsets_.Query("g", "T", 0), std::optional<int64_t>(1)) << "capped at the queue's end";
}

TEST_F(HaServiceTest, WithoutSlavesEverySyncSendIsSlaveNotAvailable) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(WaitForSlaves(Append(), 2s), PutStatus::kSlaveNotAvailable);
}

TEST_F(HaServiceTest, AnAckCountsOnlyUpToWhatTheStreamSent) {
  FakeSlave slave(ha_->port());
  ASSERT_EQ(slave.Open(0, nullptr).status(), mq::v1::HANDSHAKE_ACCEPTED);
  // The slave claims a terabyte it was never sent.
  constexpr int64_t kBogus = int64_t{1} << 40;
  ASSERT_TRUE(slave.Ack(kBogus));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = ha_->Slaves();
    return s.size() == 1 && s[0].reported_offset == kBogus;
  }));
  EXPECT_EQ(ha_->Slaves()[0].ack_offset, 0);

  // A send must not be acknowledged on the strength of that claim (timeout; or, on a slow
  // machine, no in-sync slave once the claim is kAckStaleMs old).
  const int64_t end = Append();
  const PutStatus waited = WaitForSlaves(end, 300ms);
  EXPECT_TRUE(waited == PutStatus::kFlushSlaveTimeout || waited == PutStatus::kSlaveNotAvailable)
      << static_cast<int>(waited);

  // Once the bytes were streamed and the slave acks them, the send is acknowledged.
  EXPECT_EQ(slave.ReadData(static_cast<size_t>(end)).size(), static_cast<size_t>(end));
  ASSERT_TRUE(slave.Ack(end));
  ASSERT_TRUE(WaitUntil([&] { return ha_->Slaves()[0].ack_offset == end; }));
  EXPECT_EQ(WaitForSlaves(end, 5s), PutStatus::kOk);
  EXPECT_EQ(ha_->Slaves()[0].ack_offset, end);
  EXPECT_EQ(Info()["haSlaveInSync_1"], "true");
}

// A slave's log does not shrink while it streams: an ack below the one before (or below zero, as
// a damaged report says) counts nothing, and INT64_MIN does not overflow the in-sync check.
TEST_F(HaServiceTest, AnAckBelowTheLastCountsNothing) {
  const int64_t end = Append();
  FakeSlave slave(ha_->port());
  ASSERT_EQ(slave.Open(0, nullptr).status(), mq::v1::HANDSHAKE_ACCEPTED);
  EXPECT_EQ(slave.ReadData(static_cast<size_t>(end)).size(), static_cast<size_t>(end));
  ASSERT_TRUE(slave.Ack(end));
  ASSERT_TRUE(WaitUntil([&] { return ha_->Slaves()[0].ack_offset == end; }));
  for (int64_t bogus : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    ASSERT_TRUE(slave.Ack(bogus));
    ASSERT_TRUE(WaitUntil([&] { return ha_->Slaves()[0].reported_offset == bogus; }));
    EXPECT_EQ(ha_->Slaves()[0].ack_offset, end) << bogus;
    EXPECT_EQ(Info()["haSlaveInSync_1"], "true") << bogus;
  }
  EXPECT_EQ(WaitForSlaves(end, 5s), PutStatus::kOk);
}

TEST_F(HaServiceTest, ASlaveAheadIsRefusedReportedAndNeverCounted) {
  const int64_t end = Append();
  store::RecordAnchor anchor{0, 100, 42, end + 500};
  FakeSlave ahead(ha_->port());
  auto reply = ahead.Open(end + 500, &anchor);
  EXPECT_EQ(reply.status(), mq::v1::HANDSHAKE_SLAVE_AHEAD);
  EXPECT_EQ(reply.master_max_offset(), end);
  grpc::Status st = ahead.Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), reply.message());

  EXPECT_TRUE(ha_->Slaves().empty());
  EXPECT_EQ(WaitForSlaves(end, 1s), PutStatus::kSlaveNotAvailable);
  auto info = Info();
  EXPECT_EQ(info["haSlaveCount"], "0");
  EXPECT_EQ(info["haRefusedAddr_1"], "127.0.0.1:7");
  EXPECT_EQ(info["haRefusedCount_1"], "1");
  const std::string reason = info["haRefusedReason_1"];
  EXPECT_EQ(reason.rfind("SLAVE_AHEAD: ", 0), 0u) << reason;
  EXPECT_NE(reason.find(std::to_string(end + 500)), std::string::npos) << reason;
  EXPECT_NE(reason.find(std::to_string(end)), std::string::npos) << reason;

  // The same slave, wiped, is accepted and its refusal forgotten.
  FakeSlave wiped(ha_->port());
  ASSERT_EQ(wiped.Open(0, nullptr).status(), mq::v1::HANDSHAKE_ACCEPTED);
  EXPECT_TRUE(Info().count("haRefusedReason_1") == 0);
}

TEST_F(HaServiceTest, ASegmentSizeMismatchIsRefused) {
  FakeSlave slave(ha_->port());
  auto reply = slave.Open(0, nullptr, 2 * kSegment);
  EXPECT_EQ(reply.status(), mq::v1::HANDSHAKE_SEGMENT_SIZE_MISMATCH);
  EXPECT_EQ(reply.mapped_file_size_commit_log(), kSegment);
  EXPECT_EQ(slave.Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Info()["haRefusedReason_1"].rfind("SEGMENT_SIZE_MISMATCH: ", 0), 0u);
  EXPECT_EQ(WaitForSlaves(Append(), 1s), PutStatus::kSlaveNotAvailable);
}

}  // namespace
}  // namespace mq::ha
