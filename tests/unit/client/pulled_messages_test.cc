// TakePulledMessages on replies a broker should never send: bytes that are not records, or
// records cut short. The consumer gets a Corruption naming the record, never a crash or a
// partial batch. (Whole records are checked against the broker's MessageExt end to end in
// ClientPullTest.StoredRecordsDecodeToWhatTheBrokersMessageExtCarries.)
#include <gtest/gtest.h>

#include <string>

#include "common/coding.h"
#include "convert.h"

namespace mq::client {
namespace {

Status TakeRecords(std::string records) {
  mq::v1::PullMessageResponse reply;
  reply.set_status(mq::v1::FOUND);
  reply.set_records(std::move(records));
  auto taken = TakePulledMessages(&reply, "broker-a");
  return taken.ok() ? Status::OK() : taken.status();
}

TEST(PulledMessagesTest, BytesThatAreNotRecordsAreCorruption) {
  for (std::string bad : {std::string("x"), std::string(3, '\0'), std::string(200, '\0'),
                          std::string(200, '\xff'), std::string("\x00\x00\x00\x10garbagegarbage", 18)}) {
    Status s = TakeRecords(bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_NE(s.ToString().find("record at byte 0"), std::string::npos) << s.ToString();
    EXPECT_NE(s.ToString().find("broker-a"), std::string::npos) << s.ToString();
  }
}

TEST(PulledMessagesTest, AHeaderClaimingMoreThanTheReplyIsCorruption) {
  std::string rec;
  PutFixed32BE(&rec, 4096);  // TOTALSIZE beyond the 100 bytes sent
  PutFixed32BE(&rec, 0xDAA320A7u);
  rec.resize(100, '\0');
  EXPECT_EQ(TakeRecords(rec).code(), StatusCode::kCorruption);
}

TEST(PulledMessagesTest, AReplyWithoutRecordsTakesItsMessageExtList) {
  mq::v1::PullMessageResponse reply;
  reply.set_status(mq::v1::FOUND);
  auto* ext = reply.add_messages();
  ext->mutable_message()->set_topic("T");
  ext->mutable_message()->set_body("b");
  ext->set_queue_offset(7);
  auto taken = TakePulledMessages(&reply, "broker-a");
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].message.body, "b");
  EXPECT_EQ((*taken)[0].queue.broker_name, "broker-a");
  EXPECT_EQ((*taken)[0].queue_offset, 7);
}

}  // namespace
}  // namespace mq::client
