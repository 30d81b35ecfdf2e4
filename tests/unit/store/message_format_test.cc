#include "broker/store/message_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/coding.h"

namespace mq::store {
namespace {

MessageInput Sample() {
  MessageInput m;
  m.topic = "TopicTest";
  m.queue_id = 3;
  m.flag = 7;
  m.body = "hello body";
  m.properties = {{"TAGS", "TagA"}, {"KEYS", "k1 k2"}, {"UNIQ_KEY", "ABCDEF"}};
  m.sys_flag = 0;
  m.born_timestamp = 1234567;
  m.born_host = {0x0A000001, 5555};
  m.reconsume_times = 2;
  m.prepared_transaction_offset = 99;
  return m;
}

std::string EncodeFinal(const MessageInput& m, int64_t qo = 5, int64_t phy = 1000, int64_t ts = 777) {
  std::string rec;
  EXPECT_TRUE(EncodeMessage(m, {0x7F000001, 10911}, &rec).ok());
  FinalizeRecord(rec.data(), static_cast<int32_t>(rec.size()), qo, phy, ts);
  return rec;
}

TEST(MessageFormatTest, RoundTrip) {
  MessageInput m = Sample();
  std::string rec = EncodeFinal(m);
  EXPECT_EQ(DecodeFixed32BE(rec.data()), rec.size());
  EXPECT_EQ(DecodeFixed32BE(rec.data() + 4), kMessageMagicCode);
  EXPECT_EQ(DecodeFixed64BE(rec.data() + 28), 1000u);  // PHYSICALOFFSET @28
  EXPECT_EQ(DecodeFixed64BE(rec.data() + 56), 777u);   // STORETIMESTAMP @56
  auto v = DecodeRecord(rec, true, 1000);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->topic, "TopicTest");
  EXPECT_EQ(v->body, "hello body");
  EXPECT_EQ(v->queue_id, 3);
  EXPECT_EQ(v->flag, 7);
  EXPECT_EQ(v->queue_offset, 5);
  EXPECT_EQ(v->born_timestamp, 1234567);
  EXPECT_EQ(v->born_host.port, 5555u);
  EXPECT_EQ(v->store_host.ip, 0x7F000001u);
  EXPECT_EQ(v->reconsume_times, 2);
  EXPECT_EQ(v->prepared_transaction_offset, 99);
  EXPECT_EQ(FindProperty(v->properties, "KEYS"), "k1 k2");
  EXPECT_EQ(FindProperty(v->properties, "TAGS"), "TagA");
  StoredMessage sm = ToStoredMessage(*v, rec);
  EXPECT_EQ(sm.properties.size(), 3u);
  EXPECT_EQ(sm.Property("UNIQ_KEY"), "ABCDEF");
  EXPECT_EQ(sm.raw, rec);
}

TEST(MessageFormatTest, ForEachRecordSplitsBackToBackRecordsAndStopsAtACutOne) {
  MessageInput second = Sample();
  second.body = "second body";
  const std::string first_rec = EncodeFinal(Sample(), 5, 1000);
  const std::string second_rec = EncodeFinal(second, 6, 1000 + static_cast<int64_t>(first_rec.size()));
  const std::string both = first_rec + second_rec;
  std::vector<std::string> bodies;
  auto collect = [&](const RecordView& v) { bodies.emplace_back(v.body); };
  ASSERT_TRUE(record::ForEachRecord(both, /*verify_crc=*/true, collect).ok());
  EXPECT_EQ(bodies, (std::vector<std::string>{"hello body", "second body"}));
  EXPECT_TRUE(record::ForEachRecord("", true, collect).ok());
  EXPECT_EQ(record::CountRecords(both), 2u);
  EXPECT_EQ(record::CountRecords(""), 0u);
  EXPECT_EQ(record::CountRecords(std::string_view(both).substr(0, both.size() - 1)), 1u);
  EXPECT_EQ(record::CountRecords(std::string(64, '\xff')), 0u);

  for (size_t cut : {both.size() - 1, first_rec.size() + 3, first_rec.size() + 40}) {
    bodies.clear();
    Status s = record::ForEachRecord(std::string_view(both).substr(0, cut), true, collect);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << cut << ": " << s.ToString();
    EXPECT_NE(s.ToString().find("byte " + std::to_string(first_rec.size())), std::string::npos)
        << s.ToString();
    EXPECT_EQ(bodies, std::vector<std::string>{"hello body"});
  }
  std::string flipped = both;
  flipped[first_rec.size() + 100] ^= 0x40;
  bodies.clear();
  EXPECT_EQ(record::ForEachRecord(flipped, true, collect).code(), StatusCode::kCorruption);
  EXPECT_EQ(bodies, std::vector<std::string>{"hello body"});
}

TEST(MessageFormatTest, EveryFlippedByteIsDetected) {
  std::string rec = EncodeFinal(Sample());
  for (size_t i = 0; i < rec.size(); ++i) {
    std::string bad = rec;
    bad[i] ^= 0x20;
    auto v = DecodeRecord(bad, true, 1000);
    EXPECT_FALSE(v.ok()) << "flip at byte " << i << " went undetected";
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kCorruption);
    }
  }
}

TEST(MessageFormatTest, TruncatedAndStaleRecordsAreCorrupt) {
  std::string rec = EncodeFinal(Sample());
  EXPECT_FALSE(DecodeRecord(std::string_view(rec).substr(0, rec.size() - 1), true).ok());
  EXPECT_FALSE(DecodeRecord(rec, true, 2000).ok());  // wrong position
  auto probe = ProbeRecord(std::string_view(rec).substr(0, 50));
  EXPECT_FALSE(probe.ok());  // claims more bytes than available
}

TEST(MessageFormatTest, ProbeBlankAndZeros) {
  std::string seg(100, '\0');
  auto p = ProbeRecord(seg);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, RecordKind::kEndOfData);
  EncodeBlank(seg.data(), 100);
  p = ProbeRecord(seg);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, RecordKind::kBlank);
  EXPECT_EQ(p->size, 100);
  seg[5] = 0x11;
  EXPECT_FALSE(ProbeRecord(seg).ok());
}

TEST(MessageFormatTest, RejectsBadInput) {
  std::string out;
  MessageInput m = Sample();
  m.topic = std::string(128, 't');
  EXPECT_TRUE(EncodeMessage(m, {}, &out).IsInvalidArgument());
  m = Sample();
  m.topic.clear();
  EXPECT_TRUE(EncodeMessage(m, {}, &out).IsInvalidArgument());
  m = Sample();
  m.properties["bad"] = std::string("a\x01") + "b";
  EXPECT_TRUE(EncodeMessage(m, {}, &out).IsInvalidArgument());
  m = Sample();
  m.properties["__CRC32C"] = "1";
  EXPECT_TRUE(EncodeMessage(m, {}, &out).IsInvalidArgument());
  m = Sample();
  m.properties["big"] = std::string(40000, 'x');
  EXPECT_TRUE(EncodeMessage(m, {}, &out).IsInvalidArgument());
}

TEST(MessageFormatTest, TagsCodeMatchesJavaHashCode) {
  EXPECT_EQ(TagsCode("TagA"), 2598919);  // "TagA".hashCode() in Java
  EXPECT_EQ(TagsCode(""), 0);
  EXPECT_EQ(JavaHashCode("hello"), 99162322);
  EXPECT_EQ(JavaHashCode("lo", JavaHashCode("hel")), 99162322);  // continued from a prefix
}

TEST(MessageFormatTest, OffsetMessageIdRoundTrip) {
  std::string id = CreateOffsetMessageId({0x7F000001, 10911}, 123456789);
  EXPECT_EQ(id, "7F00000100002A9F00000000075BCD15");
  auto off = DecodeOffsetMessageId(id);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, 123456789);
  EXPECT_FALSE(DecodeOffsetMessageId("xyz").ok());
}

}  // namespace
}  // namespace mq::store
