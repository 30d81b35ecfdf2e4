#include "common/frame.h"

#include <gtest/gtest.h>

#include <string>

namespace mq::frame {
namespace {

std::string FrameOf(const Header& h, const std::string& payload) {
  std::string out;
  AppendFrame(h, payload, &out);
  return out;
}

TEST(FrameTest, AHeaderReadsBackAsWritten) {
  Header h;
  h.kind = Kind::kResponse;
  h.method = Method::kSendMessage;
  h.code = StatusCode::kResourceExhausted;
  h.request_id = 0x0102030405060708ULL;
  h.flags = kMoreReplies;
  const std::string frame = FrameOf(h, "payload");
  ASSERT_EQ(frame.size(), kHeaderBytes + 7);
  // Big-endian length of everything after the length field.
  EXPECT_EQ(static_cast<uint8_t>(frame[3]), kHeaderBytes - 4 + 7);
  auto read = ReadHeader(frame.data(), kDefaultMaxFrameBytes);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->payload_bytes, 7u);
  EXPECT_EQ(read->kind, Kind::kResponse);
  EXPECT_EQ(read->method, Method::kSendMessage);
  EXPECT_EQ(read->code, StatusCode::kResourceExhausted);
  EXPECT_EQ(read->request_id, 0x0102030405060708ULL);
  EXPECT_EQ(read->flags, kMoreReplies);
  EXPECT_EQ(static_cast<uint8_t>(frame[7]), kMoreReplies);  // the byte after the method
  EXPECT_EQ(frame.substr(kHeaderBytes), "payload");
  Status s = ResponseStatus(*read, "no room");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "no room");
  read->code = StatusCode::kOk;
  EXPECT_TRUE(ResponseStatus(*read, "bytes").ok());
}

TEST(FrameTest, AnEmptyPayloadIsAFrameOfJustTheHeader) {
  const std::string frame = FrameOf(Header{}, "");
  auto read = ReadHeader(frame.data(), kDefaultMaxFrameBytes);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->payload_bytes, 0u);
  EXPECT_EQ(read->kind, Kind::kRequest);
}

TEST(FrameTest, BadHeadersAreRefusedNamingTheField) {
  Header h;
  std::string frame = FrameOf(h, "abc");
  std::string bad_magic = frame;
  bad_magic[4] = 'P';  // e.g. an HTTP/2 preface
  auto r = ReadHeader(bad_magic.data(), kDefaultMaxFrameBytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("frame.magic", 0), 0u) << r.status().message();

  std::string bad_kind = frame;
  bad_kind[5] = 9;
  r = ReadHeader(bad_kind.data(), kDefaultMaxFrameBytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("frame.kind", 0), 0u) << r.status().message();

  std::string too_short = frame;
  too_short[0] = too_short[1] = too_short[2] = 0;
  too_short[3] = 3;  // shorter than the rest of the header
  r = ReadHeader(too_short.data(), kDefaultMaxFrameBytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("frame.length", 0), 0u) << r.status().message();

  // Longer than the reader's limit: refused before anything is allocated for it.
  r = ReadHeader(frame.data(), static_cast<uint32_t>(kHeaderBytes + 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("frame.length", 0), 0u) << r.status().message();
  EXPECT_TRUE(ReadHeader(frame.data(), static_cast<uint32_t>(kHeaderBytes + 3)).ok());

  std::string huge = frame;
  huge[0] = huge[1] = huge[2] = huge[3] = static_cast<char>(0xFF);
  r = ReadHeader(huge.data(), kDefaultMaxFrameBytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("frame.length", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace mq::frame
