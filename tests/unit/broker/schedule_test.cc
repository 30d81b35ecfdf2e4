// Delay levels (broker/schedule/): parsing messageDelayLevel, the SCHEDULE_TOPIC_XXXX rewrite,
// delivery times as consume queue tags codes, delayOffset.json, and the delivery service on a
// real store with a manual clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "broker/broker_config.h"
#include "broker/schedule/delay_levels.h"
#include "broker/schedule/delay_offset_table.h"
#include "broker/schedule/schedule_message_service.h"
#include "broker/store/message_store.h"
#include "common/file_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::schedule {
namespace {

using mq::testing::TempDir;
using mq::testing::WaitUntil;

TEST(DelayLevelsTest, ParsesRocketMqDefaultAndClampsAboveTheTable) {
  auto levels = DelayLevels::Parse(kDefaultDelayLevels);
  ASSERT_TRUE(levels.ok()) << levels.status().ToString();
  EXPECT_EQ(levels->max_level(), 18);
  EXPECT_EQ(levels->DelayMillis(1), 1000);
  EXPECT_EQ(levels->DelayMillis(3), 10'000);
  EXPECT_EQ(levels->DelayMillis(5), 60'000);
  EXPECT_EQ(levels->DelayMillis(18), 2 * 3'600'000);
  EXPECT_EQ(levels->Clamp(30), 18);
  EXPECT_EQ(levels->Clamp(4), 4);
  auto days = DelayLevels::Parse("  2d\t1h ");
  ASSERT_TRUE(days.ok());
  EXPECT_EQ(days->max_level(), 2);
  EXPECT_EQ(days->DelayMillis(1), 2 * 86'400'000LL);
}

TEST(DelayLevelsTest, BadTablesAreRefusedNamingTheKeyAndLevel) {
  for (const char* bad : {"", "   ", "1x", "0s", "s", "1s abc", "-1s", "1.5s", "99999999999999999d"}) {
    auto r = DelayLevels::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message().rfind("messageDelayLevel: ", 0), 0u) << r.status().message();
  }
  EXPECT_NE(DelayLevels::Parse("1s abc").status().message().find("level 2 'abc'"), std::string::npos);
}

TEST(DelayLevelsTest, BrokerConfigRefusesABadMessageDelayLevel) {
  broker::BrokerConfig config;
  config.storePathRootDir = "/tmp/unused";
  config.brokerIP1 = "127.0.0.1";
  config.messageDelayLevel = "1s 2q";
  Status s = broker::FinalizeBrokerConfig(&config);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("messageDelayLevel: level 2 '2q'", 0), 0u) << s.message();
  config.messageDelayLevel = "1s 2s 3s";
  EXPECT_TRUE(broker::FinalizeBrokerConfig(&config).ok());
}

TEST(DelayLevelsTest, ScheduledCopyKeepsTheRealAddressInProperties) {
  store::MessageInput in;
  in.topic = "Orders";
  in.queue_id = 3;
  in.properties["TAGS"] = "TagA";
  ToScheduled(2, &in);
  EXPECT_EQ(in.topic, kScheduleTopic);
  EXPECT_EQ(in.queue_id, 1);
  EXPECT_EQ(in.properties["DELAY"], "2");
  EXPECT_EQ(in.properties["REAL_TOPIC"], "Orders");
  EXPECT_EQ(in.properties["REAL_QID"], "3");
  EXPECT_EQ(in.properties["TAGS"], "TagA");
}

TEST(DelayOffsetTableTest, WritesRocketMqFormatAndReadsItBack) {
  TempDir dir;
  {
    DelayOffsetTable table(dir.path());
    ASSERT_TRUE(table.Load().ok());
    EXPECT_EQ(table.Get(3), 0);
    table.Set(1, 5);
    table.Set(3, 12);
    ASSERT_TRUE(table.Persist().ok());
    auto text = ReadFileToString(table.file_path());
    ASSERT_TRUE(text.ok());
    EXPECT_NE(text->find("\"offsetTable\""), std::string::npos) << *text;
    EXPECT_NE(text->find("\"3\":12"), std::string::npos) << *text;
  }
  DelayOffsetTable again(dir.path());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Get(1), 5);
  EXPECT_EQ(again.Get(3), 12);
  // A file RocketMQ wrote loads too; a corrupt main file falls back to the .bak copy.
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/delayOffset.json", "{\"offsetTable\":{\"2\":7}}").ok());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Get(2), 7);
  EXPECT_EQ(again.Get(1), 0);
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/delayOffset.json", "{\"offsetTable\":{\"2\":").ok());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Get(3), 12);  // from .bak
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/delayOffset.json.bak", "{\"offsetTable\":{\"0\":-1}}").ok());
  EXPECT_EQ(again.Load().code(), StatusCode::kCorruption);
}

store::PutResult PutSync(store::MessageStore& s, store::MessageInput m) {
  auto promise = std::make_shared<std::promise<store::PutResult>>();
  auto future = promise->get_future();
  s.PutMessage(std::move(m), [promise](const store::PutResult& r) { promise->set_value(r); });
  return future.get();
}

class ScheduleServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(1'000'000);
    store::StoreOptions o;
    o.store_path_root_dir = dir_.path();
    o.mapped_file_size_commit_log = 64 * 1024;
    o.mapped_file_size_consume_queue = 100 * 20;
    o.max_message_size = 16 * 1024;
    o.max_hash_slot_num = 64;
    o.max_index_num = 256;
    store_ = std::make_unique<store::MessageStore>(o, &clock_);
    offsets_ = std::make_unique<DelayOffsetTable>(dir_.Sub("config"));
    auto levels = DelayLevels::Parse("1s 5s");
    ASSERT_TRUE(levels.ok());
    service_ = std::make_unique<ScheduleMessageService>(ScheduleMessageService::Options{*levels, 50},
                                                        store_.get(), offsets_.get(), &clock_);
    ASSERT_TRUE(store_->Start().ok());
  }
  void TearDown() override {
    service_->Shutdown();
    store_->Shutdown();
  }

  // The store (flushing every `flush_interval_ms`), the table and the service again, on the
  // same directory, after shutting the running ones down.
  void Reopen(int32_t flush_interval_ms, const std::string& delay_levels = "1s 5s") {
    service_->Shutdown();
    store_->Shutdown();
    service_.reset();
    store::StoreOptions o = store_->options();
    o.flush_interval_commit_log_ms = flush_interval_ms;
    store_ = std::make_unique<store::MessageStore>(o, &clock_);
    offsets_ = std::make_unique<DelayOffsetTable>(dir_.Sub("config"));
    ASSERT_TRUE(offsets_->Load().ok());
    auto levels = DelayLevels::Parse(delay_levels);
    ASSERT_TRUE(levels.ok());
    // delayOffset.json at most every 1.5 s of the test's clock.
    service_ = std::make_unique<ScheduleMessageService>(ScheduleMessageService::Options{*levels, 1500},
                                                        store_.get(), offsets_.get(), &clock_);
    ASSERT_TRUE(store_->Start().ok());
  }
  store::PutResult PutScheduled(const std::string& body, int32_t level) {
    store::MessageInput in;
    in.topic = "Real";
    in.queue_id = 1;
    in.body = body;
    in.born_timestamp = 1;
    in.properties = {{"UNIQ_KEY", body}};
    ToScheduled(level, &in);
    auto put = PutSync(*store_, in);
    EXPECT_TRUE(put.ok());
    return put;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<DelayOffsetTable> offsets_;
  std::unique_ptr<ScheduleMessageService> service_;
};

TEST_F(ScheduleServiceTest, DueMessageGoesToItsRealQueueWithItsPropertiesAndTheDeliveryTimeIsTheTagsCode) {
  store::MessageInput in;
  in.topic = "Real";
  in.queue_id = 1;
  in.body = "payload";
  in.born_timestamp = 1;
  in.reconsume_times = 2;
  in.properties = {{"TAGS", "TagA"}, {"KEYS", "k1"}, {"UNIQ_KEY", "ID1"}, {"color", "red"}};
  ToScheduled(2, &in);
  ASSERT_TRUE(PutSync(*store_, in).ok());
  const std::string topic(kScheduleTopic);
  // The consume queue carries the delivery time (store time + 5 s), not the TAGS hash.
  ASSERT_TRUE(WaitUntil([&] {
    return store_->GetMessages("t", topic, 1, 0, 1, 1 << 20, [](int64_t code) { return code == 1'005'000; })
               .status == store::GetMessageStatus::kFound;
  }));
  service_->Start();
  clock_.Set(1'005'000);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 1; }));
  auto got = store_->GetMessages("t", "Real", 1, 0, 1, 1 << 20, store::MakeTagFilter({"TagA"}));
  ASSERT_EQ(got.status, store::GetMessageStatus::kFound);
  auto view = store::DecodeRecord(got.messages[0], true);
  ASSERT_TRUE(view.ok());
  auto stored = store::ToStoredMessage(*view, got.messages[0]);
  EXPECT_GE(stored.header.store_timestamp, 1'005'000);
  EXPECT_EQ(stored.body, "payload");
  EXPECT_EQ(stored.header.reconsume_times, 2);
  EXPECT_EQ(stored.Property("UNIQ_KEY"), "ID1");
  EXPECT_EQ(stored.Property("KEYS"), "k1");
  EXPECT_EQ(stored.Property("color"), "red");
  EXPECT_EQ(stored.Property("DELAY"), "");
  EXPECT_EQ(stored.Property("REAL_TOPIC"), "Real");
  ASSERT_TRUE(WaitUntil([&] { return offsets_->Get(2) == 1; }));
  service_->Shutdown();  // writes delayOffset.json
  DelayOffsetTable reread(dir_.Sub("config"));
  ASSERT_TRUE(reread.Load().ok());
  EXPECT_EQ(reread.Get(2), 1);
}

// Before: delayOffset.json was written whether or not the re-puts it counted as delivered were
// durable. A power cut that took a re-put (ASYNC_FLUSH) left the level's offset past its
// scheduled message, which was never delivered.
TEST_F(ScheduleServiceTest, AfterTheLogLostItsTailALostDeliveryIsMadeAgain) {
  PutScheduled("S", 1);                     // due at 1'001'000
  Reopen(/*flush_interval_ms=*/3'600'000);  // S is durable; from here on only shutdowns flush
  service_->Start();                        // at 1'000'000
  clock_.Set(1'001'600);
  service_->Wakeup();  // delivers S, then the pass writes what it may of delayOffset.json
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 1; }));
  // A later pass, too soon to write the file: once it delivered U, the pass that delivered S
  // has ended.
  PutScheduled("U", 1);
  clock_.Set(1'002'600);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 2; }));
  auto got = store_->GetMessages("t", "Real", 1, 0, 1, 1 << 20);
  ASSERT_EQ(got.status, store::GetMessageStatus::kFound);
  auto view = store::DecodeRecord(got.messages[0], true);
  ASSERT_TRUE(view.ok());
  const int64_t delivered_s = store::ToStoredMessage(*view, got.messages[0]).header.physical_offset;
  ASSERT_LE(store_->FlushedPhyOffset(), delivered_s) << "S's delivery is not durable yet";
  // The power cut: delayOffset.json as the passes left it, the log up to its durable end.
  const std::string file = dir_.Sub("config/delayOffset.json");
  const auto left = ReadFileToString(file);
  const auto left_bak = ReadFileToString(file + ".bak");
  service_->Shutdown();
  store_->Shutdown();
  for (const auto& [path, content] : {std::pair{file, left}, std::pair{file + ".bak", left_bak}}) {
    if (content.ok()) {
      ASSERT_TRUE(WriteFileAtomically(path, *content).ok());
    } else {
      std::filesystem::remove(path);
    }
  }
  {
    std::fstream segment(dir_.Sub("commitlog/") + OffsetToFileName(0),
                         std::ios::in | std::ios::out | std::ios::binary);
    segment.seekp(delivered_s + 40);
    segment.write("TORN", 4);
  }
  std::filesystem::remove(dir_.Sub("checkpoint"));
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("abort"), "x").ok());
  Reopen(/*flush_interval_ms=*/500);
  ASSERT_EQ(store_->MaxOffsetInQueue("Real", 1), 0);  // S's delivery went with the tail
  service_->Start();
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 1; }));
  got = store_->GetMessages("t", "Real", 1, 0, 1, 1 << 20);
  ASSERT_EQ(got.status, store::GetMessageStatus::kFound);
  view = store::DecodeRecord(got.messages[0], true);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(store::ToStoredMessage(*view, got.messages[0]).body, "S");
}

// Before: the re-put of a due message is larger than its scheduled record when its real topic's
// name is longer than SCHEDULE_TOPIC_XXXX's (less the DELAY property): a record stored within
// that margin of maxMessageSize was refused at every attempt, and as a level is delivered in
// order, nothing of that level (other topics' delays, every group's retries) came out again.
TEST_F(ScheduleServiceTest, AMessageWhoseRePutIsTooLargeGoesOutWithoutItsRealTopicProperties) {
  const std::string topic(100, 't');
  store::MessageInput big;
  big.topic = topic;
  big.queue_id = 0;
  big.born_timestamp = 1;
  big.properties = {{"UNIQ_KEY", "BIG"}};
  ToScheduled(1, &big);
  std::string encoded;
  ASSERT_TRUE(store::EncodeMessage(big, {}, &encoded).ok());
  big.body = std::string(store_->options().max_message_size - encoded.size(), 'b');  // exactly the limit
  ASSERT_TRUE(PutSync(*store_, big).ok());
  PutScheduled("after", 1);
  service_->Start();
  clock_.Set(1'001'000);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 1; }));
  ASSERT_EQ(store_->MaxOffsetInQueue(topic, 0), 1);
  auto got = store_->GetMessages("t", topic, 0, 0, 1, 1 << 20);
  ASSERT_EQ(got.status, store::GetMessageStatus::kFound);
  auto view = store::DecodeRecord(got.messages[0], true);
  ASSERT_TRUE(view.ok());
  auto stored = store::ToStoredMessage(*view, got.messages[0]);
  EXPECT_EQ(stored.Property("UNIQ_KEY"), "BIG");
  EXPECT_EQ(stored.body.size(), big.body.size());
  EXPECT_EQ(stored.Property("REAL_TOPIC"), "");
}

// Before: an offset past the level queue's end (a promoted slave has its master's offsets, and
// its log may lag the master's) made the store answer "overflow", whose next offset is the
// queue's start while that is 0: every retained message of the level was delivered again.
TEST_F(ScheduleServiceTest, AnOffsetPastTheQueueEndIsTakenBackToItNotToZero) {
  PutScheduled("a", 1);
  PutScheduled("b", 1);
  // A broker starts its services once recovery dispatched the whole log.
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue(std::string(kScheduleTopic), 0) == 2; }));
  offsets_->Set(1, 10);
  service_->Start();
  clock_.Set(1'001'000);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] { return offsets_->Get(1) == 2; }));
  PutScheduled("c", 1);
  clock_.Set(1'002'000);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 1; }));
  auto got = store_->GetMessages("t", "Real", 1, 0, 10, 1 << 20);
  ASSERT_EQ(got.messages.size(), 1u);
  auto view = store::DecodeRecord(got.messages[0], true);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(store::ToStoredMessage(*view, got.messages[0]).body, "c");
}

// Before: a wall clock stepped back held every level until it came back to the messages' store
// times (an hour here). As RocketMQ's correctDeliverTimestamp, a message due later than now plus
// its level's delay goes out at once.
TEST_F(ScheduleServiceTest, AClockSteppedBackDoesNotHoldALevel) {
  PutScheduled("x", 1);  // stored at 1'000'000, due at 1'001'000
  clock_.Set(1'000'000 - 3'600'000);
  service_->Start();
  service_->Wakeup();
  EXPECT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue("Real", 1) == 1; }, std::chrono::seconds(3)));
}

// Before: only levels 1..max_level were delivered, so after messageDelayLevel was shortened the
// messages waiting in a dropped level's queue were never delivered, and nothing said so.
TEST_F(ScheduleServiceTest, MessagesOfALevelDroppedFromTheConfigAreStillDelivered) {
  PutScheduled("L2", 2);  // due 5 s after it was stored
  Reopen(20, "1s");
  service_->Start();
  clock_.Set(clock_.NowMillis() + 1000);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] {
    service_->Wakeup();
    return store_->MaxOffsetInQueue("Real", 1) == 1;
  })) << "delivered at the longest delay left (1 s)";
}

// Before: a window of queue units the store could not serve (holes, unreadable units: here a
// zeroed queue segment) answered NO_MATCHED_MESSAGE, and the level read the same window again for
// good; every later message of the level was never delivered.
TEST_F(ScheduleServiceTest, ALevelStepsPastAWindowOfUnreadableUnits) {
  for (int i = 0; i <= 200; ++i) PutScheduled("m" + std::to_string(i), 1);  // 2 queue segments + 1
  const std::string topic(kScheduleTopic);
  ASSERT_TRUE(WaitUntil([&] { return store_->MaxOffsetInQueue(topic, 0) == 201; }));
  service_->Shutdown();
  store_->Shutdown();
  const std::string middle = dir_.Sub("consumequeue/SCHEDULE_TOPIC_XXXX/0/00000000000000002000");
  ASSERT_TRUE(std::filesystem::exists(middle));
  std::filesystem::resize_file(middle, 0);
  std::filesystem::resize_file(middle, 100 * 20);  // queue offsets 100..199: zero units, holes
  Reopen(20);
  ASSERT_EQ(store_->MinOffsetInQueue(topic, 0), 0);
  service_->Start();
  clock_.Set(clock_.NowMillis() + 1000);
  service_->Wakeup();
  ASSERT_TRUE(WaitUntil([&] {
    service_->Wakeup();
    return store_->MaxOffsetInQueue("Real", 1) == 101;
  })) << "delivered "
      << store_->MaxOffsetInQueue("Real", 1);
  EXPECT_EQ(offsets_->Get(1), 201);
}

}  // namespace
}  // namespace mq::schedule
