// CheckHandshake over real stores: a replica is accepted at every point replication can leave
// it; a slave that is ahead, that holds another history (even one ending on a record boundary
// of the master's) or that uses another segment size is refused with a message naming both
// sides.
#include "broker/ha/handshake.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "broker/store/message_store.h"
#include "testutil/temp_dir.h"
#include "unit/store/store_test_util.h"

namespace mq::ha {
namespace {

using mq::testing::TempDir;
using store::MessageStore;
using store::testing::Msg;
using store::testing::PutSync;
using store::testing::SmallOptions;

constexpr int64_t kSegment = 64 * 1024;

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(master_.Start().ok());
    ASSERT_TRUE(slave_.Start().ok());
  }
  void TearDown() override {
    slave_.Shutdown();
    master_.Shutdown();
  }

  static void Put(MessageStore& s, int n, char fill) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(PutSync(s, Msg("T", 0, std::string(1000, fill))).ok());
  }
  // Copies `from`'s log into `to` in replication chunks until `to` reaches `upto`.
  static void Replicate(const MessageStore& from, MessageStore& to, int64_t upto) {
    while (to.MaxPhyOffset() < upto) {
      auto chunk = from.ReadReplicaBytes(to.MaxPhyOffset(), 5000);
      ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
      ASSERT_TRUE(to.ReplicaAppend(to.MaxPhyOffset(), *chunk).ok());
    }
    ASSERT_EQ(to.MaxPhyOffset(), upto);
  }
  // The first report HaClient sends for `s`'s log.
  static mq::v1::SlaveReport Report(const MessageStore& s, int32_t segment_size = kSegment) {
    mq::v1::SlaveReport r;
    r.set_broker_name("broker-a");
    r.set_broker_id(1);
    r.set_slave_addr("127.0.0.1:1");
    r.set_max_phy_offset(s.MaxPhyOffset());
    std::optional<store::RecordAnchor> anchor;
    if (s.MaxPhyOffset() > 0) {
      auto found = s.FindRecordAnchor(s.MaxPhyOffset());
      EXPECT_TRUE(found.ok()) << found.status().ToString();
      if (found.ok()) anchor = *found;
    }
    *r.mutable_handshake() = MakeHandshake(segment_size, anchor ? &*anchor : nullptr);
    return r;
  }
  HandshakeVerdict Check(const mq::v1::SlaveReport& r) const {
    return CheckHandshake(master_, "broker-a", r);
  }

  TempDir dir_;
  MessageStore master_{SmallOptions(dir_.Sub("master"))};
  MessageStore slave_{SmallOptions(dir_.Sub("slave"))};
};

TEST_F(HandshakeTest, ReplicaIsAcceptedWhereverReplicationLeftIt) {
  EXPECT_TRUE(Check(Report(slave_)).accepted());  // both empty
  Put(master_, 150, 'm');                         // ~150 KB: two rolls, each with a BLANK
  int at_segment_end = 0;
  while (slave_.MaxPhyOffset() < master_.MaxPhyOffset()) {
    auto chunk = master_.ReadReplicaBytes(slave_.MaxPhyOffset(), 5000);
    ASSERT_TRUE(chunk.ok());
    ASSERT_TRUE(slave_.ReplicaAppend(slave_.MaxPhyOffset(), *chunk).ok());
    if (slave_.MaxPhyOffset() % kSegment == 0) ++at_segment_end;
    auto v = Check(Report(slave_));
    EXPECT_TRUE(v.accepted()) << "slave end " << slave_.MaxPhyOffset() << ": " << v.message;
  }
  EXPECT_EQ(at_segment_end, 2);
}

TEST_F(HandshakeTest, SlaveAheadIsRefusedNamingBothOffsets) {
  Put(master_, 10, 'm');
  Replicate(master_, slave_, master_.MaxPhyOffset());
  // The master "lost" a tail the slave has: the slave's log continues past the master's end.
  Put(slave_, 2, 's');
  auto v = Check(Report(slave_));
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_SLAVE_AHEAD);
  EXPECT_NE(v.message.find("ends at offset " + std::to_string(slave_.MaxPhyOffset())), std::string::npos)
      << v.message;
  EXPECT_NE(v.message.find("max offset " + std::to_string(master_.MaxPhyOffset())), std::string::npos)
      << v.message;
  EXPECT_NE(v.message.find("brokerId 1"), std::string::npos) << v.message;
}

TEST_F(HandshakeTest, AnotherHistoryEndingOnAMasterRecordBoundaryIsRefused) {
  Put(master_, 10, 'm');
  Put(slave_, 4, 's');  // same record sizes, other bodies and timestamps
  const int64_t end = slave_.MaxPhyOffset();
  ASSERT_TRUE(master_.FindRecordAnchor(end).ok())
      << "precondition: " << end << " is a master record boundary";
  auto v = Check(Report(slave_));
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_LOG_DIVERGED) << v.message;
  auto anchor = slave_.FindRecordAnchor(end);
  ASSERT_TRUE(anchor.ok());
  EXPECT_NE(v.message.find("record at " + std::to_string(anchor->offset)), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("diverged"), std::string::npos) << v.message;
}

TEST_F(HandshakeTest, AnotherHistoryEndingOffTheMastersRecordsIsRefused) {
  Put(master_, 10, 'm');
  ASSERT_TRUE(PutSync(slave_, Msg("T", 0, std::string(1500, 's'))).ok());
  auto v = Check(Report(slave_));
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_LOG_DIVERGED) << v.message;
}

TEST_F(HandshakeTest, AnotherHistoryEndingAfterABlankIsRefused) {
  Put(master_, 100, 'm');
  Replicate(master_, slave_, kSegment);  // the slave ends exactly at the BLANK-closed segment end
  EXPECT_TRUE(Check(Report(slave_)).accepted());
  TempDir other_dir;
  MessageStore other(SmallOptions(other_dir.path()));  // same layout, other records
  ASSERT_TRUE(other.Start().ok());
  Put(other, 100, 'o');
  auto v = CheckHandshake(other, "broker-a", Report(slave_));
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_LOG_DIVERGED) << v.message;
  other.Shutdown();
}

TEST_F(HandshakeTest, SegmentSizeMismatchIsRefusedNamingBothSizes) {
  auto v = Check(Report(slave_, 2 * kSegment));
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_SEGMENT_SIZE_MISMATCH);
  EXPECT_NE(v.message.find("mappedFileSizeCommitLog=131072"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("mappedFileSizeCommitLog=65536"), std::string::npos) << v.message;
}

TEST_F(HandshakeTest, MissingOrBadFieldsAreNamed) {
  Put(master_, 3, 'm');
  Replicate(master_, slave_, master_.MaxPhyOffset());
  auto r = Report(slave_);
  r.clear_handshake();
  auto v = Check(r);
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_BAD_REQUEST);
  EXPECT_NE(v.message.find("handshake.mapped_file_size_commit_log"), std::string::npos) << v.message;

  r = Report(slave_);
  r.mutable_handshake()->clear_last_record();
  v = Check(r);
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_BAD_REQUEST);
  EXPECT_NE(v.message.find("handshake.last_record"), std::string::npos) << v.message;

  r = Report(slave_);
  r.mutable_handshake()->mutable_last_record()->set_size(1 << 20);
  EXPECT_EQ(Check(r).status, mq::v1::HANDSHAKE_BAD_REQUEST);

  // An offset near INT64_MAX: refused as malformed, without overflowing the end it implies.
  r = Report(slave_);
  r.mutable_handshake()->mutable_last_record()->set_offset(std::numeric_limits<int64_t>::max());
  v = Check(r);
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_BAD_REQUEST);
  EXPECT_NE(v.message.find("handshake.last_record"), std::string::npos) << v.message;

  r = Report(slave_);
  r.set_max_phy_offset(-1);
  v = Check(r);
  EXPECT_EQ(v.status, mq::v1::HANDSHAKE_BAD_REQUEST);
  EXPECT_NE(v.message.find("max_phy_offset"), std::string::npos) << v.message;

  r = Report(slave_);
  r.mutable_handshake()->mutable_last_record()->set_crc32c(r.handshake().last_record().crc32c() ^ 1);
  EXPECT_EQ(Check(r).status, mq::v1::HANDSHAKE_LOG_DIVERGED);

  r = Report(slave_);
  r.set_broker_name("broker-b");
  EXPECT_EQ(Check(r).status, mq::v1::HANDSHAKE_WRONG_BROKER_SET);

  EXPECT_TRUE(Check(Report(slave_)).accepted());
}

TEST(HandshakeStatusNameTest, DropsThePrefix) {
  EXPECT_EQ(HandshakeStatusName(mq::v1::HANDSHAKE_SLAVE_AHEAD), "SLAVE_AHEAD");
  EXPECT_EQ(HandshakeStatusName(mq::v1::HANDSHAKE_ACCEPTED), "ACCEPTED");
}

}  // namespace
}  // namespace mq::ha
