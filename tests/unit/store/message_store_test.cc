#include "broker/store/message_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "common/coding.h"
#include "common/file_util.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::WaitUntil;
using testing::Dispatched;
using testing::Msg;
using testing::PutSync;
namespace fs = std::filesystem;

class MessageStoreTest : public testing::StoreFixture {};

TEST_F(MessageStoreTest, PutThenGetAllStatuses) {
  auto store = Open();
  auto r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kNoMatchedLogicQueue);
  for (int i = 0; i < 10; ++i) {
    auto put = PutSync(*store, Msg("T", 0, "body-" + std::to_string(i), i % 2 ? "TagA" : "TagB"));
    ASSERT_TRUE(put.ok()) << put.error;
    EXPECT_EQ(put.queue_offset, i);
    EXPECT_EQ(put.offset_msg_id.size(), 32u);
  }
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("T", 0) == 10; }));
  r = store->GetMessages("g", "T", 0, 0, 4, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kFound);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.next_begin_offset, 4);
  EXPECT_EQ(r.min_offset, 0);
  EXPECT_EQ(r.max_offset, 10);
  auto v = DecodeRecord(r.messages[2], true);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->body, "body-2");
  EXPECT_EQ(v->queue_offset, 2);

  // max_bytes limits the batch but always returns at least one message.
  r = store->GetMessages("g", "T", 0, 0, 32, 1);
  EXPECT_EQ(r.messages.size(), 1u);

  r = store->GetMessages("g", "T", 0, 10, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetOverflowOne);
  EXPECT_EQ(r.next_begin_offset, 10);
  r = store->GetMessages("g", "T", 0, 50, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetOverflowBadly);
  EXPECT_EQ(r.next_begin_offset, 0);  // min is 0

  // Tag filtering.
  r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, MakeTagFilter({"TagA"}));
  EXPECT_EQ(r.status, GetMessageStatus::kFound);
  EXPECT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.queue_offsets[0], 1);
  EXPECT_EQ(r.next_begin_offset, 10);
  r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, MakeTagFilter({"TagZ"}));
  EXPECT_EQ(r.status, GetMessageStatus::kNoMatchedMessage);
  EXPECT_EQ(r.next_begin_offset, 10);
  r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, MakeTagFilter({"*"}));
  EXPECT_EQ(r.messages.size(), 10u);
}

// Before: a slave's store took local puts like a master's (the pop service's journal records
// were one): the record existed nowhere on the master, and the master refused the slave from
// then on (LOG_DIVERGED).
TEST_F(MessageStoreTest, AReplicaStoreTakesReplicatedBytesOnly) {
  auto master = Open();
  ASSERT_TRUE(PutSync(*master, Msg("T", 0, "from the master")).ok());
  StoreOptions replica_options = testing::SmallOptions(dir_.Sub("replica"));
  replica_options.replica = true;
  auto replica = testing::OpenStore(replica_options, &clock_);
  auto local = PutSync(*replica, Msg("T", 0, "local"));
  EXPECT_EQ(local.status, PutStatus::kServiceNotAvailable);
  EXPECT_NE(local.error.find("replicated bytes only"), std::string::npos) << local.error;
  EXPECT_EQ(replica->MaxPhyOffset(), 0);
  auto chunk = master->ReadReplicaBytes(0, 1 << 20);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  ASSERT_TRUE(replica->ReplicaAppend(0, *chunk).ok());
  EXPECT_EQ(replica->MaxPhyOffset(), master->MaxPhyOffset());
  replica->Shutdown();
  master->Shutdown();
}

// Before: std::stoi took a queue directory's all-digit name, and one beyond int32 threw out of
// the store's start (the process terminated); a consume-queue directory that could not be listed
// was taken as empty, and its queues were re-created over their own files.
TEST_F(MessageStoreTest, AQueueDirectoryThatIsNoQueueFailsTheStartNamingIt) {
  std::filesystem::create_directories(dir_.Sub("consumequeue/T/99999999999"));
  MessageStore store(options_, &clock_);
  Status s = store.Start();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("99999999999"), std::string::npos) << s.ToString();
}

TEST_F(MessageStoreTest, PropertyFilterSkipsRecordsAndAdvances) {
  auto store = Open();
  for (int i = 0; i < 10; ++i) {
    auto m = Msg("T", 0, "body-" + std::to_string(i), i % 2 ? "TagA" : "TagB");
    m.properties["n"] = std::to_string(i);
    ASSERT_TRUE(PutSync(*store, std::move(m)).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("T", 0) == 10; }));
  // The filter sees each record's raw properties; the tag filter runs first.
  std::vector<std::string> seen;
  PropertyFilter seven_up = [&](std::string_view props) {
    seen.emplace_back(FindProperty(props, "n"));
    return FindProperty(props, "n") >= "7";
  };
  auto r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, {}, seven_up);
  EXPECT_EQ(r.status, GetMessageStatus::kFound);
  EXPECT_EQ(r.queue_offsets, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(r.next_begin_offset, 10);
  EXPECT_EQ(seen.size(), 10u);
  seen.clear();
  r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, MakeTagFilter({"TagA"}), seven_up);
  EXPECT_EQ(r.queue_offsets, (std::vector<int64_t>{7, 9}));
  EXPECT_EQ(seen.size(), 5u);  // records the tag filter rejects are not read
  // Rejected records still count against max_count's scan, and nothing matching means
  // kNoMatchedMessage with the position past the scanned records.
  r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, {}, [](std::string_view) { return false; });
  EXPECT_EQ(r.status, GetMessageStatus::kNoMatchedMessage);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.next_begin_offset, 10);
  r = store->GetMessages("g", "T", 0, 0, 2, 1 << 20, {}, seven_up);
  EXPECT_EQ(r.queue_offsets, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(r.next_begin_offset, 9);
}

// The pull path's read: the same records as the per-message read, back to back in the caller's
// string, also when the queue's records are not adjacent in the commit log.
TEST_F(MessageStoreTest, RecordsOutHoldsTheSameRecordsBackToBack) {
  auto store = Open();
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(
        PutSync(*store, Msg("T", i % 2, "body-" + std::to_string(i), i % 4 < 2 ? "TagA" : "TagB")).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("T", 1) == 6; }));
  struct Read {
    int64_t offset;
    int32_t max_count;
    int32_t max_bytes;
    MessageFilter filter;
  };
  const Read reads[] = {{0, 32, 1 << 20, {}},
                        {2, 3, 1 << 20, {}},
                        {0, 32, 1, {}},
                        {0, 32, 1 << 20, MakeTagFilter({"TagB"})},
                        {6, 32, 1 << 20, {}}};
  for (const Read& read : reads) {
    SCOPED_TRACE(read.offset);
    auto each = store->GetMessages("g", "T", 1, read.offset, read.max_count, read.max_bytes, read.filter);
    std::string records = "kept";
    auto joined = store->GetMessages("g", "T", 1, read.offset, read.max_count, read.max_bytes, read.filter,
                                     {}, &records);
    std::string expected = "kept";
    for (const std::string& record : each.messages) expected += record;
    EXPECT_EQ(records, expected);
    EXPECT_TRUE(joined.messages.empty());
    EXPECT_EQ(joined.status, each.status);
    EXPECT_EQ(joined.queue_offsets, each.queue_offsets);
    EXPECT_EQ(joined.next_begin_offset, each.next_begin_offset);
    EXPECT_EQ(joined.buffer_total_size, static_cast<int64_t>(expected.size() - 4));
    // Where the last record returned is in the log, in both forms: a pull's broker suggestion
    // (slaveReadEnable) measures the consumer's lag from it. Before, the records form had none,
    // and a master with slaveReadEnable never sent our clients (which take records) to a slave.
    if (each.messages.empty()) {
      EXPECT_EQ(joined.last_phy_offset, -1);
    } else {
      auto last = DecodeRecord(each.messages.back(), true);
      ASSERT_TRUE(last.ok());
      EXPECT_EQ(each.last_phy_offset, last->physical_offset);
      EXPECT_EQ(joined.last_phy_offset, last->physical_offset);
    }
  }
}

TEST_F(MessageStoreTest, TooSmallAndOverflowAfterRetention) {
  options_.file_reserved_time_hours = 1;
  options_.delete_when = "";
  options_.disk_usage_probe = [] { return 0.80; };  // above diskMaxUsedSpaceRatio: clean now
  auto store = Open();
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(PutSync(*store, Msg("T", 1, std::string(1000, 'x'))).ok());
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  clock_.Advance(2 * 3600 * 1000);
  ASSERT_TRUE(PutSync(*store, Msg("T", 1, "fresh")).ok());
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  CleanStats stats = store->RunCleanOnce();
  EXPECT_GE(stats.commit_log_files_deleted, 3);
  EXPECT_GT(store->MinPhyOffset(), 0);
  int64_t min = store->MinOffsetInQueue("T", 1);
  EXPECT_GT(min, 0);
  auto r = store->GetMessages("g", "T", 1, 0, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetTooSmall);
  EXPECT_EQ(r.next_begin_offset, min);
  r = store->GetMessages("g", "T", 1, min, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kFound);
  r = store->GetMessages("g", "T", 1, 302, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetOverflowBadly);
  EXPECT_EQ(r.next_begin_offset, 301);  // min > 0: corrected to max
}

TEST_F(MessageStoreTest, BadInputGetsClearStatus) {
  auto store = Open();
  auto r = PutSync(*store, Msg(std::string(200, 't'), 0, "x"));
  EXPECT_EQ(r.status, PutStatus::kMessageIllegal);
  EXPECT_NE(r.error.find("topic"), std::string::npos) << r.error;
  r = PutSync(*store, Msg("T", -1, "x"));
  EXPECT_EQ(r.status, PutStatus::kMessageIllegal);
  EXPECT_NE(r.error.find("queue_id"), std::string::npos);
  r = PutSync(*store, Msg("T", 5000, "x"));
  EXPECT_EQ(r.status, PutStatus::kMessageIllegal);
  r = PutSync(*store, Msg("T", 0, std::string(options_.max_message_size + 1, 'x')));
  EXPECT_EQ(r.status, PutStatus::kMessageIllegal);
  EXPECT_NE(r.error.find("maxMessageSize"), std::string::npos) << r.error;
  auto big = Msg("T", 0, "x");
  big.properties["P"] = std::string(33000, 'p');
  r = PutSync(*store, big);
  EXPECT_EQ(r.status, PutStatus::kPropertiesSizeExceeded);
  auto bad = Msg("T", 0, "x");
  bad.properties["K"] = "a\x02";
  EXPECT_EQ(PutSync(*store, bad).status, PutStatus::kMessageIllegal);
  EXPECT_EQ(store->MaxPhyOffset(), 0);
  store->Shutdown();
  EXPECT_EQ(PutSync(*store, Msg("T", 0, "x")).status, PutStatus::kServiceNotAvailable);
}

TEST_F(MessageStoreTest, FailedSegmentCreationLatches) {
  auto fail = std::make_shared<std::atomic<bool>>(false);
  options_.preallocate_next_segment = false;
  options_.fault_hook = [fail](std::string_view op, const std::string&) {
    if (op == "create" && fail->load()) return Status::IoError("injected ENOSPC");
    return Status::OK();
  };
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("E", 0, "first")).ok());
  // The hook fails every create: let the consume queue segment exist first, or its failed
  // creation latches the store before the commit log roll is even tried.
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("E", 0) == 1; }));
  fail->store(true);
  PutResult r;
  for (int i = 0; i < 100 && (r = PutSync(*store, Msg("E", 0, std::string(2000, 'x')))).ok(); ++i) {
  }
  EXPECT_EQ(r.status, PutStatus::kCreateMappedFileFailed);
  EXPECT_EQ(PutSync(*store, Msg("E", 0, "x")).status, PutStatus::kServiceNotAvailable);
}

TEST_F(MessageStoreTest, CleanRestartKeepsEverything) {
  {
    auto store = Open();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(PutSync(*store, Msg("R", i % 3, std::string(700, 'r'))).ok());
    store->Shutdown();
    EXPECT_FALSE(fs::exists(dir_.Sub("abort")));
  }
  auto store = Open();
  EXPECT_EQ(store->MaxOffsetInQueue("R", 0), 34);
  EXPECT_EQ(store->MaxOffsetInQueue("R", 2), 33);
  auto put = PutSync(*store, Msg("R", 0, "next"));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put.queue_offset, 34);
}

TEST_F(MessageStoreTest, CrashRecoveryTruncatesTornTailAndConsumeQueues) {
  int64_t last_offset = 0;
  {
    auto store = Open();
    for (int i = 0; i < 50; ++i) {
      auto r = PutSync(*store, Msg("C", 0, std::string(900, 'c'), "", "key" + std::to_string(i)));
      ASSERT_TRUE(r.ok());
      last_offset = r.physical_offset;
    }
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
    ASSERT_TRUE(WaitUntil([&] { return fs::exists(dir_.Sub("checkpoint")); }));
    store->Shutdown();
  }
  // Simulate a crash that tore the last record: abort marker back, garbage in the record.
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("abort"), "x").ok());
  std::string seg = dir_.Sub("commitlog/" + OffsetToFileName(last_offset - last_offset % (64 * 1024)));
  FILE* f = std::fopen(seg.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, static_cast<long>(last_offset % (64 * 1024) + 300), SEEK_SET);
  std::fwrite("GARBAGE", 1, 7, f);
  std::fclose(f);
  // Also make the checkpoint unknown so recovery scans the whole log.
  fs::remove(dir_.Sub("checkpoint"));

  auto store = Open();
  EXPECT_EQ(store->MaxPhyOffset(), last_offset);
  EXPECT_EQ(store->MaxOffsetInQueue("C", 0), 49);
  auto r = store->GetMessages("g", "C", 0, 0, 100, 1 << 20);
  EXPECT_EQ(r.messages.size(), 49u);
  for (const auto& m : r.messages) EXPECT_TRUE(DecodeRecord(m, true).ok());
  auto put = PutSync(*store, Msg("C", 0, "after-crash"));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put.queue_offset, 49);
  EXPECT_EQ(put.physical_offset, last_offset);
  EXPECT_TRUE(store->QueryMessageByKey("C", "key49", 10).empty());
  EXPECT_EQ(store->QueryMessageByKey("C", "key48", 10).size(), 1u);
}

TEST_F(MessageStoreTest, DeletedConsumeQueueDirIsRebuilt) {
  {
    auto store = Open();
    for (int i = 0; i < 120; ++i) ASSERT_TRUE(PutSync(*store, Msg("Q", i % 2, "m" + std::to_string(i))).ok());
    store->Shutdown();
  }
  fs::remove_all(dir_.Sub("consumequeue"));
  auto store = Open();
  EXPECT_EQ(store->MaxOffsetInQueue("Q", 0), 60);
  EXPECT_EQ(store->MaxOffsetInQueue("Q", 1), 60);
  auto r = store->GetMessages("g", "Q", 1, 59, 1, 1 << 20);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(DecodeRecord(r.messages[0], true)->body, "m119");
}

// Found by the request storm: mqadmin's begin timestamp reaches the index unchecked, and
// INT64_MIN - 999 overflowed (UBSan abort; in release the wrapped bound matched nothing).
TEST_F(MessageStoreTest, IndexQueryAcceptsExtremeTimeBounds) {
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("I", 0, "v", "", "k1", "UNIQ1")).ok());
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  EXPECT_EQ(store->QueryMessageByKey("I", "k1", 10, INT64_MIN, INT64_MAX).size(), 1u);
  EXPECT_EQ(store->QueryMessageByKey("I", "k1", 10, INT64_MIN + 999, INT64_MAX).size(), 1u);
  EXPECT_TRUE(store->QueryMessageByKey("I", "k1", 10, INT64_MIN, INT64_MIN).empty());
}

TEST_F(MessageStoreTest, IndexLookupsSurviveRestart) {
  std::string offset_id;
  {
    auto store = Open();
    for (int i = 0; i < 40; ++i) {
      auto r = PutSync(*store, Msg("I", 0, "v" + std::to_string(i), "",
                                   "order-" + std::to_string(i) + " shared", "UNIQ" + std::to_string(i)));
      ASSERT_TRUE(r.ok());
      if (i == 7) offset_id = r.offset_msg_id;
    }
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
    EXPECT_EQ(store->QueryMessageByKey("I", "order-3", 10).size(), 1u);
    store->Shutdown();
  }
  auto store = Open();
  auto by_key = store->QueryMessageByKey("I", "order-12", 10);
  ASSERT_EQ(by_key.size(), 1u);
  EXPECT_EQ(by_key[0].body, "v12");
  EXPECT_EQ(store->QueryMessageByKey("I", "shared", 100).size(), 40u);
  EXPECT_EQ(store->QueryMessageByKey("I", "shared", 5).size(), 5u);
  EXPECT_TRUE(store->QueryMessageByKey("Other", "shared", 5).empty());
  auto by_uniq = store->QueryMessageByUniqueKey("I", "UNIQ33");
  ASSERT_TRUE(by_uniq.ok());
  EXPECT_EQ(by_uniq->body, "v33");
  EXPECT_TRUE(store->QueryMessageByUniqueKey("I", "nope").status().IsNotFound());
  auto phy = DecodeOffsetMessageId(offset_id);
  ASSERT_TRUE(phy.ok());
  auto msg = store->LookMessageByOffset(*phy);
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->body, "v7");
  EXPECT_FALSE(store->LookMessageByOffset(*phy + 1).ok());
}

TEST_F(MessageStoreTest, OffsetByTimestamp) {
  auto store = Open();
  int64_t t0 = clock_.NowMillis();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(PutSync(*store, Msg("TS", 0, "x")).ok());
    clock_.Advance(1000);
  }
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("TS", 0) == 20; }));
  EXPECT_EQ(*store->GetOffsetByTimestamp("TS", 0, t0 - 5), 0);
  EXPECT_EQ(*store->GetOffsetByTimestamp("TS", 0, t0 + 5000), 5);
  EXPECT_EQ(*store->GetOffsetByTimestamp("TS", 0, t0 + 4500), 5);
  EXPECT_EQ(*store->GetOffsetByTimestamp("TS", 0, t0 + 100000), 20);
  EXPECT_FALSE(store->GetOffsetByTimestamp("none", 0, t0).ok());
}

// A damaged consume-queue unit (here: queue offset 10 pointing at message 15 with a size of 8)
// is unreadable to the time search, as to pulls: the search neither reads past the unit's
// bytes nor takes another message's time for it.
TEST_F(MessageStoreTest, OffsetByTimestampSkipsADamagedUnit) {
  auto store = Open();
  const int64_t t0 = clock_.NowMillis();
  int64_t phy15 = -1;
  for (int i = 0; i < 20; ++i) {
    auto r = PutSync(*store, Msg("TS", 0, "x"));
    ASSERT_TRUE(r.ok());
    if (i == 15) phy15 = r.physical_offset;
    clock_.Advance(1000);
  }
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("TS", 0) == 20; }));
  char unit[20];
  EncodeFixed64BE(unit, static_cast<uint64_t>(phy15));
  EncodeFixed32BE(unit + 8, 8);
  EncodeFixed64BE(unit + 12, 0);
  // The queue is mapped shared: the store reads what this writes.
  const std::string segment = dir_.Sub("consumequeue/TS/0/" + OffsetToFileName(0));
  int fd = ::open(segment.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << segment;
  ASSERT_EQ(::pwrite(fd, unit, sizeof(unit), 10 * 20), static_cast<ssize_t>(sizeof(unit)));
  ::close(fd);
  EXPECT_EQ(*store->GetOffsetByTimestamp("TS", 0, t0 + 10500), 11);
  EXPECT_EQ(*store->GetOffsetByTimestamp("TS", 0, t0 + 5000), 5);
}

TEST_F(MessageStoreTest, BatchAcrossSegmentRollReportsEveryPhysicalOffset) {
  auto store = Open();
  // 10 KiB bodies in 64 KiB segments: the batch rolls into a new segment part way through,
  // behind a BLANK record, so offsets cannot be derived from the first one and the sizes.
  std::vector<MessageInput> batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(Msg("Roll", 0, std::string(10 * 1024, static_cast<char>('a' + i))));
  const PutResult result =
      testing::WaitForPut([&](PutCallback done) { store->PutMessages(std::move(batch), std::move(done)); },
                          std::chrono::seconds(10));
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_EQ(result.physical_offsets.size(), 10u);
  EXPECT_EQ(result.physical_offsets[0], result.physical_offset);
  bool rolled = false;
  for (size_t i = 0; i < 10; ++i) {
    auto msg = store->LookMessageByOffset(result.physical_offsets[i]);
    ASSERT_TRUE(msg.ok()) << i << ": " << msg.status().ToString();
    EXPECT_EQ(msg->body, std::string(10 * 1024, static_cast<char>('a' + i)));
    rolled = rolled || (i > 0 && result.physical_offsets[i] % options_.mapped_file_size_commit_log == 0);
  }
  EXPECT_TRUE(rolled);
}

TEST_F(MessageStoreTest, PutRecordsStoresAndDispatchesAnEncodedBatch) {
  auto store = Open();
  auto put = [&](RecordBatch batch) {
    return testing::WaitForPut(
        [&](PutCallback done) { store->PutRecords(std::move(batch), std::move(done)); },
        std::chrono::seconds(10));
  };
  RecordBatch batch{"Enc", 2, {}};
  for (int i = 0; i < 3; ++i) {
    RecordFields f;
    f.topic = "Enc";
    const std::string body = "body " + std::to_string(i);
    f.body = body;
    ASSERT_TRUE(AppendRecord(f, "TAGS\x01TagA\x02", {}, &batch.bytes).ok());
  }
  PutResult r = put(batch);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.msg_num, 3);
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("Enc", 2) == 3; }));
  auto got = store->GetMessages("g", "Enc", 2, 0, 10, 1 << 20);
  ASSERT_EQ(got.status, GetMessageStatus::kFound);
  ASSERT_EQ(got.messages.size(), 3u);

  batch.queue_id = options_.max_queue_nums_per_topic;
  r = put(batch);
  EXPECT_EQ(r.status, PutStatus::kMessageIllegal);
  EXPECT_NE(r.error.find("queue_id"), std::string::npos) << r.error;
  r = put(RecordBatch{"Enc", 2, {}});
  EXPECT_EQ(r.status, PutStatus::kMessageIllegal);
  EXPECT_NE(r.error.find("empty"), std::string::npos) << r.error;
  EXPECT_EQ(store->MaxOffsetInQueue("Enc", 2), 3);
}

// An encoded batch that rolls into the next segment has a blank between its records in the log:
// each record still reaches its queue at its own offset (the dispatcher reads an appender's
// records from its buffer only when they lie in the log exactly as there).
TEST_F(MessageStoreTest, PutRecordsAcrossASegmentRollAreDispatchedAtTheirOwnOffsets) {
  auto store = Open();
  RecordBatch batch{"EncRoll", 0, {}};
  for (int i = 0; i < 10; ++i) {
    RecordFields f;
    f.topic = "EncRoll";
    const std::string body(10 * 1024, static_cast<char>('a' + i));
    f.body = body;
    ASSERT_TRUE(AppendRecord(f, "", {}, &batch.bytes).ok());
  }
  ASSERT_LT(options_.mapped_file_size_commit_log, static_cast<int64_t>(batch.bytes.size()));
  const PutResult r =
      testing::WaitForPut([&](PutCallback done) { store->PutRecords(std::move(batch), std::move(done)); },
                          std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("EncRoll", 0) == 10; }))
      << store->MaxOffsetInQueue("EncRoll", 0);
  auto got = store->GetMessages("g", "EncRoll", 0, 0, 10, 1 << 20);
  ASSERT_EQ(got.status, GetMessageStatus::kFound);
  ASSERT_EQ(got.messages.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    auto view = DecodeRecord(got.messages[i], /*verify_crc=*/true);
    ASSERT_TRUE(view.ok()) << i << ": " << view.status().ToString();
    EXPECT_EQ(view->physical_offset, r.physical_offsets[i]);
    EXPECT_EQ(view->body, std::string(10 * 1024, static_cast<char>('a' + i)));
  }
  // No pass failed on the way (a failed one is retried from the log, but leaves the store
  // refusing puts).
  EXPECT_TRUE(PutSync(*store, Msg("EncRoll", 0, "after")).ok());
}

TEST_F(MessageStoreTest, RetentionFollowsDeleteWhenAndDiskFull) {
  options_.file_reserved_time_hours = 1;
  // A deleteWhen hour that is not now: nothing is deleted at normal disk usage.
  int64_t now = clock_.NowMillis();
  int hour_now = -1;
  for (int h = 0; h < 24; ++h) {
    if (CleanService::IsDeleteHour(fmt::format("{:02d}", h), now)) hour_now = h;
  }
  ASSERT_GE(hour_now, 0);
  options_.delete_when = fmt::format("{:02d}", (hour_now + 12) % 24);
  auto usage = std::make_shared<std::atomic<double>>(0.10);
  options_.disk_usage_probe = [usage] { return usage->load(); };
  auto store = Open();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(PutSync(*store, Msg("D", 0, std::string(1000, 'd'))).ok());
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  clock_.Advance(2 * 3600 * 1000);
  EXPECT_EQ(store->RunCleanOnce().commit_log_files_deleted, 0);
  // At the deleteWhen hour expired files go.
  clock_.Advance(int64_t{10} * 3600 * 1000);
  CleanStats stats = store->RunCleanOnce();
  EXPECT_GE(stats.commit_log_files_deleted, 2);
  EXPECT_GE(stats.consume_queue_files_deleted, 1);
  EXPECT_EQ(store->MinOffsetInQueue("D", 0) > 0, true);
  // Disk above the warning level: puts refused with a clear status.
  usage->store(0.95);
  store->RunCleanOnce();
  auto r = PutSync(*store, Msg("D", 0, "x"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_NE(r.error.find("disk full"), std::string::npos) << r.error;
  usage->store(0.10);
  store->RunCleanOnce();
  EXPECT_TRUE(PutSync(*store, Msg("D", 0, "x")).ok());
}

}  // namespace
}  // namespace mq::store

namespace mq::store {
namespace {

TEST(MessageStoreEmptyQueueTest, NoMessageInQueue) {
  mq::testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("consumequeue/Empty/0"));
  ManualClock clock;
  MessageStore store(testing::SmallOptions(dir.path()), &clock);
  ASSERT_TRUE(store.Start().ok());
  auto r = store.GetMessages("g", "Empty", 0, 0, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kNoMessageInQueue);
  EXPECT_EQ(r.next_begin_offset, 0);
  EXPECT_EQ(store.MaxOffsetInQueue("Empty", 0), 0);
}

}  // namespace
}  // namespace mq::store

namespace mq::store {
namespace {

// A segment cut short (e.g. copied or restored incompletely) is detected even after a clean
// shutdown: everything up to the cut stays readable, nothing past it is served.
TEST(MessageStoreCorruptionTest, TruncatedSegmentIsRecovered) {
  mq::testing::TempDir dir;
  ManualClock clock;
  StoreOptions options = testing::SmallOptions(dir.path());
  {
    MessageStore store(options, &clock);
    ASSERT_TRUE(store.Start().ok());
    for (int i = 0; i < 40; ++i)
      ASSERT_TRUE(testing::PutSync(store, testing::Msg("X", 0, std::string(800, 'x'))).ok());
    store.Shutdown();
  }
  std::filesystem::resize_file(dir.Sub("commitlog/00000000000000000000"), 10000);
  MessageStore store(options, &clock);
  ASSERT_TRUE(store.Start().ok());
  EXPECT_LE(store.MaxPhyOffset(), 10000);
  int64_t max = store.MaxOffsetInQueue("X", 0);
  EXPECT_GT(max, 5);
  EXPECT_LT(max, 40);
  auto r = store.GetMessages("g", "X", 0, 0, 100, 1 << 20);
  ASSERT_EQ(static_cast<int64_t>(r.messages.size()), max);
  for (const auto& m : r.messages) EXPECT_TRUE(DecodeRecord(m, true).ok());
  auto put = testing::PutSync(store, testing::Msg("X", 0, "next"));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put.queue_offset, max);
}

}  // namespace
}  // namespace mq::store
