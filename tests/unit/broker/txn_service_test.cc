// TransactionalMessageService on a real MessageStore with a ManualClock: check timing (first
// after transactionTimeOut, then every transactionCheckInterval, discard after
// transactionCheckMax), the bounded cost of a round with many pending halves, persisted scan
// progress, and idempotent ends across a restart. Plus the pure pieces: the state table and
// the half/op record codecs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "broker/meta/topic_config_manager.h"
#include "broker/meta/transaction_progress_file.h"
#include "broker/store/message_store.h"
#include "broker/transaction/half_message.h"
#include "broker/transaction/transaction_state.h"
#include "broker/transaction/transactional_message_service.h"
#include "common/file_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "unit/store/store_test_util.h"

namespace mq::broker::txn {
namespace {

using mq::testing::TempDir;
using mq::testing::WaitUntil;

// Records checks; a group is live unless told otherwise.
class RecordingSender : public CheckSender {
 public:
  bool SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) override {
    std::lock_guard<std::mutex> lock(mu_);
    checks.push_back(check);
    groups.push_back(group);
    return live;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return checks.size();
  }
  std::mutex mu_;
  std::vector<mq::v1::TransactionCheck> checks;
  std::vector<std::string> groups;
  bool live = true;
};

class TxnServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenStore(store::testing::SmallOptions(dir_.Sub("store")), &clock_);
    topics_ =
        std::make_unique<TopicConfigManager>(dir_.Sub("config"), TopicConfigManager::Options{}, &clock_);
    ASSERT_TRUE(topics_->Load().ok());
  }

  std::unique_ptr<TransactionalMessageService> Open(int32_t max_per_round = 4096) {
    TransactionOptions o;
    o.transaction_timeout_ms = 6000;
    o.check_interval_ms = 30000;
    o.check_max = 3;
    o.broker_name = "broker-a";
    o.progress_path = dir_.Sub("progress");
    o.max_halves_per_round = max_per_round;
    o.run_thread = false;
    auto s = std::make_unique<TransactionalMessageService>(o, store_.get(), topics_.get(), &sender_, &clock_);
    EXPECT_TRUE(s->Start().ok());
    return s;
  }

  store::PutResult PutHalf(const std::string& body, const std::string& uniq, int64_t immunity_s = -1,
                           bool wait = true) {
    store::MessageInput m = store::testing::Msg("RealTopic", 1, body, "TagA", "", uniq);
    if (immunity_s >= 0) m.properties[std::string(kPropCheckImmunity)] = std::to_string(immunity_s);
    ToHalfMessage(&m, "pg");
    auto r = store::testing::PutSync(*store_, m);
    EXPECT_TRUE(r.ok()) << r.error;
    if (wait) {
      EXPECT_TRUE(WaitUntil([&] { return store::testing::Dispatched(*store_); }));
    }
    return r;
  }

  Status End(TransactionalMessageService& s, const std::string& txn, int64_t offset,
             mq::v1::TransactionResolution resolution, mq::v1::EndTransactionResponse* out = nullptr) {
    mq::v1::EndTransactionRequest req;
    req.set_producer_group("pg");
    req.set_transaction_id(txn);
    req.set_commit_log_offset(offset);
    req.set_resolution(resolution);
    std::promise<std::pair<Status, mq::v1::EndTransactionResponse>> p;
    s.End(req, [&p](const Status& st, const mq::v1::EndTransactionResponse& r) { p.set_value({st, r}); });
    auto [st, r] = p.get_future().get();
    if (out) *out = r;
    EXPECT_TRUE(WaitUntil([&] { return store::testing::Dispatched(*store_); }));
    return st;
  }

  int64_t Max(const std::string& topic, int32_t q = 0) { return store_->MaxOffsetInQueue(topic, q); }
  int64_t Round(TransactionalMessageService& s) {
    int64_t n = s.RunRoundForTest();
    EXPECT_TRUE(WaitUntil([&] { return store::testing::Dispatched(*store_); }));
    return n;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<TopicConfigManager> topics_;
  RecordingSender sender_;
};

// Before: a round that reached the half while its End(COMMIT) was still putting passed it as
// ended; the put then failed (a flush error here), the end was forgotten, and nothing was
// ever going to check the transaction: the scan had moved past its only half for good.
TEST_F(TxnServiceTest, AnEndWhosePutFailsLeavesItsHalfToTheChecks) {
  store_->Shutdown();
  auto options = store::testing::SmallOptions(dir_.Sub("store"));
  options.flush_disk_type = store::FlushDiskType::kSyncFlush;
  const store::StoreOptions healthy = options;
  auto armed = std::make_shared<std::atomic<bool>>(false);
  auto gate = std::make_shared<std::promise<void>>();
  std::shared_future<void> opened = gate->get_future().share();
  options.fault_hook = [armed, opened](std::string_view op, const std::string& path) {
    if (op == "flush" && armed->load() && path.find("/commitlog/") != std::string::npos) {
      opened.wait();
      return Status::IoError("injected EIO flushing " + path);
    }
    return Status::OK();
  };
  store_ = store::testing::OpenStore(options, &clock_);
  const store::PutResult half = PutHalf("b", "TXF");
  auto s = Open();
  armed->store(true);
  mq::v1::EndTransactionRequest req;
  req.set_producer_group("pg");
  req.set_transaction_id("TXF");
  req.set_commit_log_offset(half.physical_offset);
  req.set_resolution(mq::v1::TRANSACTION_COMMIT);
  std::promise<Status> ended;
  s->End(req, [&ended](const Status& st, const mq::v1::EndTransactionResponse&) { ended.set_value(st); });
  s->RunRoundForTest();  // the commit's put waits on the flush the hook holds
  gate->set_value();
  EXPECT_FALSE(ended.get_future().get().ok());
  s.reset();

  store_->Shutdown();
  store_ = store::testing::OpenStore(healthy, &clock_);
  s = Open();
  clock_.Advance(6000);
  Round(*s);
  ASSERT_EQ(sender_.count(), 1u);
  EXPECT_EQ(sender_.checks[0].transaction_id(), "TXF");
}

TEST_F(TxnServiceTest, ChecksAfterTimeoutThenEveryIntervalThenDiscards) {
  PutHalf("b", "TX1");
  auto s = Open();
  Round(*s);
  EXPECT_EQ(sender_.count(), 0u);
  clock_.Advance(5999);
  Round(*s);
  EXPECT_EQ(sender_.count(), 0u);
  clock_.Advance(1);
  Round(*s);
  ASSERT_EQ(sender_.count(), 1u);
  EXPECT_EQ(sender_.checks[0].transaction_id(), "TX1");
  EXPECT_EQ(sender_.checks[0].check_times(), 1);
  EXPECT_EQ(sender_.checks[0].message().message().topic(), "RealTopic");
  EXPECT_EQ(sender_.checks[0].message().queue_id(), 1);
  EXPECT_EQ(sender_.groups[0], "pg");
  Round(*s);  // the copy is not due before the interval
  clock_.Advance(29999);
  Round(*s);
  EXPECT_EQ(sender_.count(), 1u);
  clock_.Advance(1);
  Round(*s);
  ASSERT_EQ(sender_.count(), 2u);
  EXPECT_EQ(sender_.checks[1].check_times(), 2);
  clock_.Advance(30000);
  Round(*s);
  ASSERT_EQ(sender_.count(), 3u);
  clock_.Advance(30000);
  Round(*s);
  EXPECT_EQ(sender_.count(), 3u);  // checkMax reached: discarded, not checked again
  EXPECT_EQ(Max(std::string(kCheckMaxTimeTopic)), 1);
  EXPECT_TRUE(topics_->Get(std::string(kCheckMaxTimeTopic)).has_value());
  EXPECT_EQ(Max("RealTopic", 1), 0);
  auto pending = s->QueryHalf({});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->pending_total(), 0);
}

TEST_F(TxnServiceTest, AHalfIsStoredOnlyWithRoomForTheCopiesItsChecksAppend) {
  // Each check appends a copy of the half with TRANSACTION_CHECK_TIMES and TRAN_PREPARED_TS
  // added. A half stored without room for them had every copy refused, and the scan stopped
  // at it for good: no later transaction was checked again.
  const int64_t max_message_size = store::testing::SmallOptions("").max_message_size;
  auto half_of_size = [](const std::string& uniq, int64_t record_bytes) {
    store::MessageInput m = store::testing::Msg("RealTopic", 1, "b", "TagA", "", uniq);
    ToHalfMessage(&m, "pg");
    std::string encoded;
    EXPECT_TRUE(store::EncodeMessage(m, {}, &encoded).ok());
    m.body += std::string(static_cast<size_t>(record_bytes) - encoded.size(), 'x');
    return m;
  };
  auto refused = store::testing::PutSync(*store_, half_of_size("TXFULL", max_message_size - 30));
  EXPECT_EQ(refused.status, store::PutStatus::kMessageIllegal) << refused.error;
  EXPECT_THAT(refused.error, ::testing::HasSubstr("kept for the broker's copies"));
  auto roomy =
      store::testing::PutSync(*store_, half_of_size("TXROOM", max_message_size - kHalfCopyGrowthBytes));
  ASSERT_TRUE(roomy.ok()) << roomy.error;
  PutHalf("b", "TXNEXT");
  auto s = Open();
  clock_.Advance(6000);
  Round(*s);
  ASSERT_EQ(sender_.count(), 2u);
  EXPECT_EQ(sender_.checks[0].transaction_id(), "TXROOM");
  EXPECT_EQ(sender_.checks[1].transaction_id(), "TXNEXT");
  clock_.Advance(30000);
  Round(*s);
  EXPECT_EQ(sender_.count(), 4u);  // the copies are checked in their turn
}

TEST_F(TxnServiceTest, NoLiveProducerStillCountsTheCheck) {
  sender_.live = false;
  PutHalf("b", "TX1");
  auto s = Open();
  clock_.Advance(6000);
  Round(*s);
  clock_.Advance(30000);
  Round(*s);
  EXPECT_EQ(sender_.count(), 2u);
  EXPECT_EQ(sender_.checks[1].check_times(), 2);
}

TEST_F(TxnServiceTest, ImmunityOverridesTimeoutWithoutBlockingOthers) {
  PutHalf("long", "TXLONG", /*immunity_s=*/600);
  PutHalf("short", "TXSHORT");
  auto s = Open();
  clock_.Advance(6000);
  Round(*s);
  // TXLONG moved behind (no check), TXSHORT checked.
  ASSERT_EQ(sender_.count(), 1u);
  EXPECT_EQ(sender_.checks[0].transaction_id(), "TXSHORT");
  clock_.Advance(600 * 1000 - 6000);
  Round(*s);
  bool long_checked = false;
  for (const auto& c : sender_.checks) long_checked |= c.transaction_id() == "TXLONG";
  EXPECT_TRUE(long_checked);
}

TEST_F(TxnServiceTest, RoundCostIsBoundedAndProgressPersists) {
  for (int i = 0; i < 500; ++i) PutHalf("b", "TX" + std::to_string(i), -1, /*wait=*/false);
  ASSERT_TRUE(WaitUntil([&] { return store::testing::Dispatched(*store_); }));
  auto s = Open(/*max_per_round=*/100);
  // Nothing due: the round stops at the first record.
  EXPECT_EQ(Round(*s), 1);
  clock_.Advance(6000);
  EXPECT_EQ(Round(*s), 100);
  EXPECT_EQ(sender_.count(), 100u);
  EXPECT_EQ(sender_.checks.back().transaction_id(), "TX99");
  s->Shutdown();
  // A new instance resumes at the persisted position: TX0..TX99 are not checked again.
  auto again = Open(/*max_per_round=*/100);
  EXPECT_EQ(Round(*again), 100);
  ASSERT_EQ(sender_.count(), 200u);
  EXPECT_EQ(sender_.checks[100].transaction_id(), "TX100");
  auto pending = again->QueryHalf({});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->pending_total(), 500);
}

TEST_F(TxnServiceTest, EndsAreIdempotentAcrossRestartAndSkippedByTheScan) {
  auto h1 = PutHalf("commit-me", "TXC");
  auto h2 = PutHalf("roll-me", "TXR");
  auto s = Open();
  mq::v1::EndTransactionResponse r;
  ASSERT_TRUE(End(*s, "TXC", h1.physical_offset, mq::v1::TRANSACTION_COMMIT, &r).ok());
  EXPECT_FALSE(r.duplicate());
  ASSERT_TRUE(End(*s, "TXR", h2.physical_offset, mq::v1::TRANSACTION_ROLLBACK).ok());
  EXPECT_EQ(Max("RealTopic", 1), 1);
  s->Shutdown();
  auto again = Open();
  ASSERT_TRUE(End(*again, "TXC", h1.physical_offset, mq::v1::TRANSACTION_COMMIT, &r).ok());
  EXPECT_TRUE(r.duplicate());
  EXPECT_EQ(End(*again, "TXR", h2.physical_offset, mq::v1::TRANSACTION_COMMIT).code(),
            StatusCode::kFailedPrecondition);
  clock_.Advance(6000);
  Round(*again);
  EXPECT_EQ(sender_.count(), 0u);
  EXPECT_EQ(Max("RealTopic", 1), 1);
  // Still known after the scan passed them (recently finished).
  ASSERT_TRUE(End(*again, "TXC", h1.physical_offset, mq::v1::TRANSACTION_COMMIT, &r).ok());
  EXPECT_TRUE(r.duplicate());
}

// The scan passes an ended transaction's half before the broker stops: after the restart its
// end is still known (re-read from the op queue), so a late COMMIT cannot deliver a message
// that was rolled back. (Before, only ends with a half ahead of the scan were re-learnt:
// TxnBrokerTest.RollbackNeverDeliversAndSurvivesRestart failed whenever the broker was slow.)
TEST_F(TxnServiceTest, AnEndTheScanHadPassedIsStillKnownAfterARestart) {
  auto rolled = PutHalf("roll-me", "TXR");
  auto committed = PutHalf("commit-me", "TXC");
  auto s = Open();
  ASSERT_TRUE(End(*s, "TXR", rolled.physical_offset, mq::v1::TRANSACTION_ROLLBACK).ok());
  ASSERT_TRUE(End(*s, "TXC", committed.physical_offset, mq::v1::TRANSACTION_COMMIT).ok());
  clock_.Advance(6000);
  Round(*s);  // passes both halves: their ends move to the finished FIFO
  s->Shutdown();
  auto again = Open();
  EXPECT_EQ(End(*again, "TXR", rolled.physical_offset, mq::v1::TRANSACTION_COMMIT).code(),
            StatusCode::kFailedPrecondition);
  mq::v1::EndTransactionResponse r;
  ASSERT_TRUE(End(*again, "TXC", committed.physical_offset, mq::v1::TRANSACTION_COMMIT, &r).ok());
  EXPECT_TRUE(r.duplicate());
  EXPECT_EQ(Max("RealTopic", 1), 1);  // the committed one, once
  EXPECT_EQ(sender_.count(), 0u);
}

// Before: the positions were written whether or not the copies the scan had appended were
// durable. A power cut that took the copies (ASYNC_FLUSH) left the scan past the only records
// of their transactions: none was ever checked again.
TEST_F(TxnServiceTest, AfterTheLogLostItsTailNoTransactionIsLeftUnchecked) {
  PutHalf("a", "TXA");
  PutHalf("b", "TXB");
  // The halves are durable; from here on the store flushes only at its shutdown.
  store_->Shutdown();
  auto slow = store::testing::SmallOptions(dir_.Sub("store"));
  slow.flush_interval_commit_log_ms = 3'600'000;
  store_ = store::testing::OpenStore(slow, &clock_);
  auto s = Open();
  clock_.Advance(6000);
  Round(*s);  // checks both, appending their copies
  ASSERT_EQ(sender_.count(), 2u);
  const int64_t first_copy = sender_.checks[0].commit_log_offset();
  ASSERT_LE(store_->FlushedPhyOffset(), first_copy) << "the copies are not durable yet";
  // The power cut: the positions file as the scan left it, the log up to its durable end.
  const auto left = ReadFileToString(dir_.Sub("progress"));
  s.reset();
  if (left.ok()) {
    ASSERT_TRUE(WriteFileAtomically(dir_.Sub("progress"), *left).ok());
  } else {
    std::filesystem::remove(dir_.Sub("progress"));
  }
  store_->Shutdown();
  store_.reset();
  {
    std::fstream segment(dir_.Sub("store/commitlog/") + OffsetToFileName(0),
                         std::ios::in | std::ios::out | std::ios::binary);
    segment.seekp(first_copy + 40);
    segment.write("TORN", 4);
  }
  std::filesystem::remove(dir_.Sub("store/checkpoint"));
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("store/abort"), "x").ok());
  store_ = store::testing::OpenStore(store::testing::SmallOptions(dir_.Sub("store")), &clock_);
  ASSERT_EQ(Max(std::string(kHalfTopic)), 2);  // the halves, not their copies

  auto again = Open();
  clock_.Advance(30000);
  Round(*again);
  ASSERT_EQ(sender_.count(), 4u);
  EXPECT_EQ(sender_.checks[2].transaction_id(), "TXA");
  EXPECT_EQ(sender_.checks[3].transaction_id(), "TXB");
}

// Before: the positions file was taken as it was. A promoted slave has its master's positions
// (metadata sync), which pass its own half queue when replication lagged: the halves sent to it
// as the new master take the offsets below them. (The store answers a read past the end with
// the queue's start while that is 0, which hid it here; once retention moved the start, with
// the end: past the halves written meanwhile.)
TEST_F(TxnServiceTest, PositionsPastTheQueuesAreTakenBackToTheirEnds) {
  ASSERT_TRUE(WriteTransactionProgress(dir_.Sub("progress"), TransactionPositions{5, 7}).ok());
  Open()->Shutdown();
  auto positions = ReadTransactionProgress(dir_.Sub("progress"));
  ASSERT_TRUE(positions.ok()) << positions.status().ToString();
  EXPECT_EQ(*positions, (TransactionPositions{0, 0}));
  auto s = Open();
  PutHalf("b", "TX1");  // the first sent to the new master: half queue offset 0
  clock_.Advance(6000);
  Round(*s);
  ASSERT_EQ(sender_.count(), 1u);
  EXPECT_EQ(sender_.checks[0].transaction_id(), "TX1");
}

TEST_F(TxnServiceTest, CorruptProgressFileIsReported) {
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("progress"), "garbage").ok());
  TransactionOptions o;
  o.progress_path = dir_.Sub("progress");
  o.run_thread = false;
  TransactionalMessageService s(o, store_.get(), topics_.get(), &sender_, &clock_);
  Status st = s.Start();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("halfOffset"), std::string::npos) << st.message();
}

TEST(TransactionStateTableTest, TracksUntilPassedThenRemembersFinished) {
  TransactionStateTable t(/*finished_capacity=*/2);
  EXPECT_TRUE(t.Add("a", Resolution::kCommit, 10, 5));
  EXPECT_FALSE(t.Add("a", Resolution::kRollback, 12, 6));
  EXPECT_TRUE(t.Add("b", Resolution::kRollback, 20, -1));
  EXPECT_EQ(t.MinOpOffset(100), 5);
  t.ExtendHalfMax("a", 30);  // a copy at 30 raced with the end
  t.DropPassed(20);
  EXPECT_EQ(t.active(), 1u);  // b dropped, a kept until 31
  EXPECT_EQ(t.Find("b"), Resolution::kRollback);
  t.SetOpOffset("a", 7);  // no effect: already known
  EXPECT_EQ(t.MinOpOffset(100), 5);
  t.DropPassed(31);
  EXPECT_EQ(t.active(), 0u);
  EXPECT_EQ(t.MinOpOffset(100), 100);
  EXPECT_TRUE(t.Add("c", Resolution::kCommit, 1, 9));
  t.DropPassed(1);
  // Capacity 2: the oldest finished one (b) is forgotten.
  EXPECT_FALSE(t.Find("b").has_value());
  EXPECT_EQ(t.Find("a"), Resolution::kCommit);
  EXPECT_EQ(t.Find("c"), Resolution::kCommit);
  // Re-read after a restart: a known one keeps its resolution; a new one pushes out the oldest.
  EXPECT_TRUE(t.Add("d", Resolution::kRollback, 50, 12));
  t.AddFinished("d", Resolution::kCommit);
  t.AddFinished("c", Resolution::kRollback);
  EXPECT_EQ(t.Find("d"), Resolution::kRollback);
  EXPECT_EQ(t.active(), 1u);
  EXPECT_EQ(t.Find("c"), Resolution::kCommit);
  t.AddFinished("e", Resolution::kRollback);
  EXPECT_FALSE(t.Find("a").has_value());
  EXPECT_EQ(t.Find("e"), Resolution::kRollback);
}

TEST(HalfMessageTest, HalfRoundTripAndRestore) {
  store::MessageInput m = store::testing::Msg("Real", 3, "body", "TagX", "k1", "UID1");
  m.properties["user"] = "v";
  ToHalfMessage(&m, "pg");
  EXPECT_EQ(m.topic, kHalfTopic);
  EXPECT_EQ(m.queue_id, 0);
  std::string encoded;
  ASSERT_TRUE(store::EncodeMessage(m, {}, &encoded).ok());
  store::FinalizeRecord(encoded.data(), static_cast<int32_t>(encoded.size()), 4, 1000, 1234);
  auto view = store::DecodeRecord(encoded, true);
  ASSERT_TRUE(view.ok());
  auto stored = store::ToStoredMessage(*view, encoded);
  auto info = ParseHalf(stored);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->transaction_id, "UID1");
  EXPECT_EQ(info->producer_group, "pg");
  EXPECT_EQ(info->real_topic, "Real");
  EXPECT_EQ(info->real_queue_id, 3);
  EXPECT_EQ(info->prepared_ts, 1234);
  auto real = RestoreRealMessage(stored, *info);
  EXPECT_EQ(real.topic, "Real");
  EXPECT_EQ(real.queue_id, 3);
  EXPECT_EQ(real.sys_flag & kSysFlagTransactionMask, kSysFlagCommit);
  EXPECT_EQ(real.prepared_transaction_offset, 1000);
  EXPECT_EQ(real.properties.count("REAL_TOPIC"), 0u);
  EXPECT_EQ(real.properties.at("TAGS"), "TagX");
  EXPECT_EQ(real.properties.at("user"), "v");
  auto copy = RenewHalf(stored, *info, 2);
  EXPECT_EQ(copy.properties.at("TRANSACTION_CHECK_TIMES"), "2");
  EXPECT_EQ(copy.properties.at("TRAN_PREPARED_TS"), "1234");
  // Not a half message.
  stored.topic = "Real";
  EXPECT_EQ(ParseHalf(stored).status().code(), StatusCode::kCorruption);
}

TEST(HalfMessageTest, AProducersCheckBookkeepingIsIgnoredAndImmunityCapped) {
  // TRANSACTION_CHECK_TIMES and TRAN_PREPARED_TS are the check's own: a producer setting them
  // (malformed, or spent) must not make its half unparseable or undue; a huge
  // CHECK_IMMUNITY_TIME_IN_SECONDS counts as an hour, without overflow.
  store::MessageInput m = store::testing::Msg("Real", 0, "body", "", "", "UID2");
  m.properties["TRANSACTION_CHECK_TIMES"] = "abc";
  m.properties["TRAN_PREPARED_TS"] = "9223372036854775807";
  m.properties["CHECK_IMMUNITY_TIME_IN_SECONDS"] = "9223372036854775807";
  ToHalfMessage(&m, "pg");
  std::string encoded;
  ASSERT_TRUE(store::EncodeMessage(m, {}, &encoded).ok());
  store::FinalizeRecord(encoded.data(), static_cast<int32_t>(encoded.size()), 4, 1000, 1234);
  auto view = store::DecodeRecord(encoded, true);
  ASSERT_TRUE(view.ok());
  auto info = ParseHalf(store::ToStoredMessage(*view, encoded));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->check_times, 0);
  EXPECT_EQ(info->prepared_ts, 1234);
  EXPECT_EQ(info->check_immunity_ms, kMaxCheckImmunitySec * 1000);
}

TEST(HalfMessageTest, OpCodec) {
  auto in = EncodeOp({"TX", Resolution::kDiscard, 7, 9});
  store::StoredMessage m;
  m.body = in.body;
  m.properties = in.properties;
  auto op = DecodeOp(m);
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->transaction_id, "TX");
  EXPECT_EQ(op->resolution, Resolution::kDiscard);
  EXPECT_EQ(op->half_queue_offset, 7);
  EXPECT_EQ(op->half_max_offset, 9);
  for (std::string bad : {"", "1,2", "1,2,X", "a,2,C", "1,2,CC"}) {
    m.body = bad;
    EXPECT_EQ(DecodeOp(m).status().code(), StatusCode::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace mq::broker::txn
