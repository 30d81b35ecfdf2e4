#include "broker/store/commit_log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/consume_queue.h"
#include "broker/store/mapped_file_queue.h"
#include "common/file_util.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;

TEST(MappedFileQueueTest, CreatesFindsTruncatesAndDeletes) {
  TempDir dir;
  MappedFileQueue q(dir.Sub("q"), 4096, true, nullptr);
  ASSERT_TRUE(q.Load().ok());
  EXPECT_TRUE(q.empty());
  auto f0 = q.GetLastOrCreate(0);
  ASSERT_TRUE(f0.ok());
  std::string data(4096, 'a');
  ASSERT_TRUE((*f0)->Append(data.data(), 4096));
  EXPECT_FALSE((*f0)->Append("x", 1));
  auto f1 = q.GetLastOrCreate(0);
  ASSERT_TRUE(f1.ok());
  EXPECT_EQ((*f1)->from_offset(), 4096);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("q/00000000000000004096")));
  ASSERT_TRUE((*f1)->Append("hello", 5));
  EXPECT_EQ(q.MaxWrotOffset(), 4101);
  EXPECT_EQ(q.FindByOffset(4100)->from_offset(), 4096);
  EXPECT_EQ(q.FindByOffset(100)->from_offset(), 0);
  EXPECT_EQ(q.FindByOffset(9000), nullptr);
  ASSERT_TRUE(q.Flush().ok());
  EXPECT_EQ(q.FlushedWhere(), 4101);

  ASSERT_TRUE(q.TruncateDirty(4098).ok());
  EXPECT_EQ(q.MaxWrotOffset(), 4098);
  EXPECT_EQ((*f1)->View(2, 3), std::string(3, '\0'));                         // tail zeroed
  EXPECT_EQ(q.DeleteLeading([](const MappedFile&) { return true; }, 10), 1);  // never the last
  EXPECT_EQ(q.MinOffset(), 4096);
  // A reader's snapshot of a deleted file stays readable.
  EXPECT_EQ((*f0)->View(0, 1), "a");
}

// Before: the predicate ran under the segment list's lock. Retention's reads every record header
// of a segment whose newest time is unknown (after a restart, on a slave), seconds per GiB from
// a cold disk, and meanwhile every flush (SYNC_FLUSH acknowledgements), pull and roll waited.
TEST(MappedFileQueueTest, DeletionJudgesSegmentsWithoutHoldingTheQueue) {
  TempDir dir;
  MappedFileQueue q(dir.Sub("q"), 4096, true, nullptr);
  ASSERT_TRUE(q.Load().ok());
  for (int64_t from = 0; from <= 2 * 4096; from += 4096) {
    auto f = q.GetLastOrCreate(from);
    ASSERT_TRUE(f.ok());
    std::string data(4096, 'a');
    ASSERT_TRUE((*f)->Append(data.data(), from < 2 * 4096 ? 4096 : 1));
  }
  int judged = 0;
  const int deleted = q.DeleteLeading(
      [&](const MappedFile&) {
        ++judged;
        // Another thread using the queue while a segment is judged (a reader's MinOffset).
        // (Detached: were it blocked on the lock, a future's destructor would wait for it here.)
        auto used = std::make_shared<std::promise<void>>();
        auto ready = used->get_future();
        std::thread([&q, used] {
          q.MinOffset();
          used->set_value();
        }).detach();
        return ready.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
      },
      10);
  EXPECT_EQ(judged, 2);
  EXPECT_EQ(deleted, 2);
  EXPECT_EQ(q.MinOffset(), 2 * 4096);
}

TEST(MappedFileQueueTest, ReloadRejectsGaps) {
  TempDir dir;
  {
    MappedFileQueue q(dir.Sub("q"), 4096, false, nullptr);
    ASSERT_TRUE(q.Load().ok());
    for (int i = 0; i < 3; ++i) {
      auto f = q.GetLastOrCreate(0);
      ASSERT_TRUE(f.ok());
      (*f)->SetWrotePosition(4096);
    }
  }
  std::filesystem::remove(dir.Sub("q/00000000000000004096"));
  MappedFileQueue q(dir.Sub("q"), 4096, false, nullptr);
  Status s = q.Load();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
}

class CommitLogTest : public testing::StoreFixture {
 protected:
  AppendResult AppendOne(CommitLog& log, const std::string& topic, int32_t qid, size_t body_size) {
    std::vector<PendingRecord> recs(1);
    EXPECT_TRUE(
        EncodeMessage(testing::Msg(topic, qid, std::string(body_size, 'b')), {}, &recs[0].bytes).ok());
    recs[0].topic = topic;
    recs[0].queue_id = qid;
    return log.Append(&recs);
  }
  static RecordFields Fields(std::string_view topic, std::string_view body) {
    RecordFields f;
    f.topic = topic;
    f.body = body;
    return f;
  }
};

TEST_F(CommitLogTest, AssignsOffsetsAndRollsWithBlank) {
  CommitLog log(options_, &clock_);
  ASSERT_TRUE(log.Load().ok());
  ASSERT_TRUE(log.Recover(false, -1).ok());
  std::vector<AppendResult> results;
  for (int i = 0; i < 100; ++i) {
    auto r = AppendOne(log, i % 2 ? "A" : "B", 0, 1000);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    results.push_back(r);
  }
  EXPECT_EQ(results[0].wrote_offset, 0);
  EXPECT_EQ(results[0].queue_offset, 0);
  EXPECT_EQ(results[1].queue_offset, 0);  // different topic
  EXPECT_EQ(results[2].queue_offset, 1);
  // ~1.1 KB records in 64 KiB segments: the log rolled, and no record straddles a segment.
  int rolled = 0;
  for (size_t i = 1; i < results.size(); ++i) {
    int64_t expect = results[i - 1].wrote_offset + results[i - 1].wrote_bytes;
    if (results[i].wrote_offset != expect) {
      ++rolled;
      EXPECT_EQ(results[i].wrote_offset % options_.mapped_file_size_commit_log, 0);
      auto ref = log.ReadRecordAt(expect, log.committed_offset());
      ASSERT_TRUE(ref.ok());
      EXPECT_EQ(ref->kind, RecordKind::kBlank);
      EXPECT_EQ(ref->next_offset, results[i].wrote_offset);
    }
  }
  EXPECT_GE(rolled, 1);
  for (const auto& r : results) {
    auto m = log.LookMessage(r.wrote_offset, log.committed_offset());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->header.physical_offset, r.wrote_offset);
  }
  EXPECT_FALSE(log.LookMessage(results.back().wrote_offset + 1, log.committed_offset()).ok());
}

// Both flush types write every append through the fd (none is copied into the mapping);
// SYNC_FLUSH also starts the zeros' writeback ahead of it, ASYNC_FLUSH leaves the zeros in the
// page cache.
TEST_F(CommitLogTest, HowAppendsReachTheSegmentFollowsTheFlushType) {
  for (FlushDiskType type : {FlushDiskType::kAsyncFlush, FlushDiskType::kSyncFlush}) {
    const bool sync = type == FlushDiskType::kSyncFlush;
    SCOPED_TRACE(sync ? "SYNC_FLUSH" : "ASYNC_FLUSH");
    TempDir dir;
    StoreOptions options = testing::SmallOptions(dir.path());
    options.flush_disk_type = type;
    CommitLog log(options, &clock_);
    ASSERT_TRUE(log.Load().ok());
    ASSERT_TRUE(log.Recover(false, -1).ok());
    auto r = AppendOne(log, "T", 0, 100);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    auto files = log.queue().Snapshot();
    ASSERT_FALSE(files.empty());
    EXPECT_TRUE(files.back()->by_write());
    EXPECT_TRUE(files.back()->zero_ahead());
    EXPECT_EQ(files.back()->zeros_to_disk(), sync);
    // SYNC_FLUSH stages the record until the flush thread writes it (CommitStaged).
    EXPECT_EQ(log.committed_offset(), sync ? 0 : r.end_offset);
    EXPECT_EQ(log.CommitStaged(), sync);
    EXPECT_EQ(log.committed_offset(), r.end_offset);
    auto m = log.LookMessage(r.wrote_offset, log.committed_offset());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->body, std::string(100, 'b'));
  }
}

TEST_F(CommitLogTest, OneBufferBatchStampsItsQueueAndRollsWithBlank) {
  CommitLog log(options_, &clock_);
  ASSERT_TRUE(log.Load().ok());
  ASSERT_TRUE(log.Recover(false, -1).ok());
  ASSERT_TRUE(AppendOne(log, "T", 5, 100).status.ok());
  // 100 records of ~1.1 KB in 64 KiB segments: the batch rolls once or more.
  RecordBatch batch{"T", 5, {}};
  for (int i = 0; i < 100; ++i) {
    // Encoded for queue 0: Append writes the batch's queue into every record.
    const std::string body(1000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(AppendRecord(Fields("T", body), "", {}, &batch.bytes).ok());
  }
  auto r = log.Append(&batch);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.msg_num, 100);
  EXPECT_EQ(r.queue_offset, 1);
  ASSERT_EQ(r.physical_offsets.size(), 100u);
  int rolled = 0;
  for (size_t i = 0; i < r.physical_offsets.size(); ++i) {
    auto m = log.LookMessage(r.physical_offsets[i], log.committed_offset());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->header.queue_id, 5);
    EXPECT_EQ(m->header.queue_offset, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(m->body, std::string(1000, static_cast<char>('a' + i % 26)));
    if (i > 0 && r.physical_offsets[i] % options_.mapped_file_size_commit_log == 0) ++rolled;
  }
  EXPECT_GE(rolled, 1);
  EXPECT_EQ(AppendOne(log, "T", 5, 10).queue_offset, 101);
}

TEST_F(CommitLogTest, OneBufferBatchWithABadRecordSizeIsRefusedWhole) {
  CommitLog log(options_, &clock_);
  ASSERT_TRUE(log.Load().ok());
  ASSERT_TRUE(log.Recover(false, -1).ok());
  RecordBatch batch{"T", 0, {}};
  ASSERT_TRUE(AppendRecord(Fields("T", "first"), "", {}, &batch.bytes).ok());
  ASSERT_TRUE(AppendRecord(Fields("T", "second"), "", {}, &batch.bytes).ok());
  const int64_t before = log.committed_offset();
  for (size_t cut : {size_t{1}, size_t{5}}) {
    RecordBatch torn = batch;
    torn.bytes.resize(torn.bytes.size() - cut);
    auto r = log.Append(&torn);
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << r.status.ToString();
    EXPECT_NE(r.status.message().find("record 1"), std::string::npos) << r.status.ToString();
    EXPECT_EQ(log.committed_offset(), before) << "nothing of a refused batch is written";
  }
}

TEST_F(CommitLogTest, RecoveryTruncatesTornTailAndCorruption) {
  int64_t last_good_end = 0;
  int64_t torn_at = 0;
  {
    CommitLog log(options_, &clock_);
    ASSERT_TRUE(log.Load().ok());
    ASSERT_TRUE(log.Recover(false, -1).ok());
    for (int i = 0; i < 10; ++i) last_good_end = AppendOne(log, "T", 1, 500).end_offset;
    auto r = AppendOne(log, "T", 1, 500);
    torn_at = r.wrote_offset;
    EXPECT_EQ(torn_at, last_good_end);
    ASSERT_TRUE(log.Flush().ok());
  }
  // Tear the last record: zero 40 bytes inside it.
  {
    FILE* f = std::fopen(dir_.Sub("commitlog/00000000000000000000").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, static_cast<long>(torn_at + 520), SEEK_SET);
    std::string zeros(40, '\0');
    std::fwrite(zeros.data(), 1, zeros.size(), f);
    std::fclose(f);
  }
  CommitLog log(options_, &clock_);
  ASSERT_TRUE(log.Load().ok());
  auto end = log.Recover(false, -1);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, torn_at);
  EXPECT_EQ(log.committed_offset(), torn_at);
  // The log continues where the valid data ended; the stale bytes are gone.
  auto r = AppendOne(log, "T", 1, 10);
  EXPECT_EQ(r.wrote_offset, torn_at);
}

TEST_F(CommitLogTest, ReplicaAppendCopiesRawBytes) {
  TempDir other;
  StoreOptions slave_opts = testing::SmallOptions(other.path());
  CommitLog master(options_, &clock_);
  CommitLog slave(slave_opts, &clock_);
  for (auto* log : {&master, &slave}) {
    ASSERT_TRUE(log->Load().ok());
    ASSERT_TRUE(log->Recover(false, -1).ok());
  }
  for (int i = 0; i < 80; ++i) AppendOne(master, "R", 0, 1000);
  int64_t pos = 0;
  while (pos < master.committed_offset()) {
    auto chunk_len = static_cast<int32_t>(std::min<int64_t>(4000, master.committed_offset() - pos));
    auto file_end = (pos / options_.mapped_file_size_commit_log + 1) * options_.mapped_file_size_commit_log;
    chunk_len = static_cast<int32_t>(std::min<int64_t>(chunk_len, file_end - pos));
    auto ref = master.Read(pos, chunk_len);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    ASSERT_TRUE(slave.ReplicaAppend(pos, ref->bytes).ok());
    pos += chunk_len;
  }
  EXPECT_EQ(slave.committed_offset(), master.committed_offset());
  EXPECT_FALSE(slave.ReplicaAppend(5, "x").ok());
  auto m = slave.LookMessage(0, slave.committed_offset());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->topic, "R");
}

TEST(ConsumeQueueTest, PutReadRecoverAndGaps) {
  TempDir dir;
  {
    ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
    ASSERT_TRUE(cq.Load().ok());
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(cq.Put(i, CqUnit{i * 100, 100, i % 3}).ok());
    EXPECT_EQ(cq.min_offset(), 0);
    EXPECT_EQ(cq.max_offset(), 25);
    auto units = cq.Read(8, 10);
    ASSERT_EQ(units.size(), 2u);  // stops at the segment end
    EXPECT_EQ(units[0].phy_offset, 800);
    EXPECT_EQ(cq.Get(24)->tags_code, 0);
    EXPECT_FALSE(cq.Get(25).has_value());
    ASSERT_TRUE(cq.Put(3, CqUnit{300, 100, 0}).ok());  // idempotent re-dispatch
    EXPECT_EQ(cq.max_offset(), 25);
    EXPECT_EQ(cq.LastPhysicalEnd(), 2500);
    ASSERT_TRUE(cq.Flush().ok());
  }
  ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
  ASSERT_TRUE(cq.Load().ok());
  ASSERT_TRUE(cq.Recover(0, 2000).ok());  // commit log ends at 2000: units 20.. dropped
  EXPECT_EQ(cq.max_offset(), 20);
  ASSERT_TRUE(cq.Put(20, CqUnit{2000, 50, 0}).ok());
  EXPECT_EQ(cq.max_offset(), 21);
  EXPECT_EQ(cq.DeleteExpired(1000), 1);  // segment [0,10) references < 1000
  EXPECT_EQ(cq.min_offset(), 10);
}

// The dispatcher stages a queue's consecutive units and writes them with one pwrite: staged
// units are unseen until Commit(); a unit that would not fit the segment, or does not continue
// the queue, commits what is staged and is put as before (a roll, holes for a gap); and what
// was committed is in the file for the next start.
TEST(ConsumeQueueTest, StagedUnitsAreUnseenUntilCommittedAndFollowTheQueueAcrossSegments) {
  TempDir dir;
  auto unit = [](int64_t i) { return CqUnit{i * 100, 100, i % 3}; };
  {
    ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
    ASSERT_TRUE(cq.Load().ok());
    ASSERT_TRUE(cq.Stage(0, unit(0)).ok());  // an empty queue: put at once
    EXPECT_EQ(cq.max_offset(), 1);
    for (int i = 1; i < 7; ++i) ASSERT_TRUE(cq.Stage(i, unit(i)).ok());
    EXPECT_EQ(cq.staged_bytes(), 6u * kCqUnitSize);
    EXPECT_EQ(cq.max_offset(), 1);
    EXPECT_EQ(cq.Read(0, 10).size(), 1u);
    ASSERT_TRUE(cq.Commit().ok());
    EXPECT_EQ(cq.staged_bytes(), 0u);
    EXPECT_EQ(cq.max_offset(), 7);
    // 7..9 fill the first segment; 10 rolls to the next, which 11..14 continue.
    for (int i = 7; i < 15; ++i) ASSERT_TRUE(cq.Stage(i, unit(i)).ok());
    EXPECT_EQ(cq.max_offset(), 11);
    ASSERT_TRUE(cq.Commit().ok());
    EXPECT_EQ(cq.max_offset(), 15);
    ASSERT_TRUE(cq.Stage(15, unit(15)).ok());
    ASSERT_TRUE(cq.Put(3, unit(3)).ok());  // a re-dispatch commits the staged unit first
    EXPECT_EQ(cq.max_offset(), 16);
    // A gap: 16 and 17 become holes.
    ASSERT_TRUE(cq.Stage(18, unit(18)).ok());
    EXPECT_EQ(cq.max_offset(), 19);
    std::vector<CqUnit> units = cq.Read(10, 10);
    ASSERT_EQ(units.size(), 9u);
    EXPECT_EQ(units[6], CqUnit{});
    EXPECT_EQ(units[7], CqUnit{});
    EXPECT_EQ(units[8], unit(18));
    ASSERT_TRUE(cq.Flush().ok());
  }
  // The next start finds every unit written before the holes (a recovery ends the last segment
  // at its first hole).
  ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
  ASSERT_TRUE(cq.Load().ok());
  ASSERT_TRUE(cq.Recover(0, 100000).ok());
  EXPECT_EQ(cq.max_offset(), 16);
  std::vector<CqUnit> units = cq.Read(0, 10);
  for (const CqUnit& u : cq.Read(10, 10)) units.push_back(u);
  ASSERT_EQ(units.size(), 16u);
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(units[i], unit(i)) << i;
}

// Before: a damaged unit's phy_offset + size overflowed (undefined; a sanitizer build aborted at
// every start, a release build wrapped negative and kept the unit as inside the log).
TEST(ConsumeQueueTest, AUnitWithAnOverflowingOffsetIsDroppedAtRecovery) {
  TempDir dir;
  {
    ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
    ASSERT_TRUE(cq.Load().ok());
    ASSERT_TRUE(cq.Put(0, CqUnit{0, 100, 0}).ok());
    ASSERT_TRUE(cq.Put(1, CqUnit{INT64_MAX - 8, 100, 0}).ok());
    ASSERT_TRUE(cq.Flush().ok());
  }
  ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
  ASSERT_TRUE(cq.Load().ok());
  ASSERT_TRUE(cq.Recover(0, 1000).ok());
  EXPECT_EQ(cq.max_offset(), 1);
  EXPECT_EQ(cq.LastPhysicalEnd(), 100);
  EXPECT_EQ(cq.DeleteExpired(1000), 0);
}

// A unit repaired by re-dispatch lies below its segment's flushed position, which no later
// Flush() syncs, while the next checkpoint counts its record as dispatched: the repair is
// synced when it is made.
TEST(ConsumeQueueTest, ARepairedUnitIsSyncedAtOnce) {
  TempDir dir;
  std::vector<std::string> synced;
  std::mutex mu;
  FaultHook hook = [&](std::string_view op, const std::string& path) {
    std::lock_guard lock(mu);
    if (op == "flush") synced.push_back(path);
    return Status::OK();
  };
  ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize, hook);
  ASSERT_TRUE(cq.Load().ok());
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(cq.Put(i, CqUnit{i * 100, 100, 7}).ok());
  ASSERT_TRUE(cq.Flush().ok());
  {
    std::lock_guard lock(mu);
    synced.clear();
  }
  ASSERT_TRUE(cq.Put(3, CqUnit{300, 100, 7}).ok());  // the same unit: nothing to repair
  ASSERT_TRUE(cq.Put(3, CqUnit{300, 100, 8}).ok());  // differs (a torn tags code): repaired
  ASSERT_TRUE(cq.Flush().ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(synced.size(), 1u);
  EXPECT_EQ(synced[0], dir.Sub("cq") + "/" + OffsetToFileName(0));
  EXPECT_EQ(cq.Get(3)->tags_code, 8);
}

TEST(ConsumeQueueTest, RebuildStartsMidQueue) {
  TempDir dir;
  ConsumeQueue cq("T", 0, dir.Sub("cq"), 10 * kCqUnitSize);
  ASSERT_TRUE(cq.Load().ok());
  ASSERT_TRUE(cq.Put(37, CqUnit{5000, 10, 0}).ok());
  EXPECT_EQ(cq.min_offset(), 37);
  EXPECT_EQ(cq.max_offset(), 38);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("cq/00000000000000000600")));
}

}  // namespace
}  // namespace mq::store
