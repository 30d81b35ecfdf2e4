// CallMeter (call_meter.h): when a reply's calls may run on the thread that read it.
#include "call_meter.h"

#include <gtest/gtest.h>

namespace mq::client {
namespace {

TEST(CallMeterTest, NoCallRunsOnAReplyThreadBeforeSixteenAreMeasured) {
  CallMeter meter(20'000);
  for (int i = 0; i < CallMeter::kMeasuredCalls - 1; ++i) {
    meter.Record(1'000);
    EXPECT_FALSE(meter.ReplyThreadMayRun(1)) << i;
  }
  meter.Record(1'000);
  EXPECT_TRUE(meter.ReplyThreadMayRun(1));
  EXPECT_EQ(meter.mean_ns(), 1'000);
}

TEST(CallMeterTest, ARecordOfSeveralCallsCountsEachAndAveragesThem) {
  CallMeter meter(20'000);
  meter.Record(32'000, 16);  // the first record sets the mean: 2 µs a call
  EXPECT_EQ(meter.mean_ns(), 2'000);
  EXPECT_TRUE(meter.ReplyThreadMayRun(100));   // 200 µs in all
  EXPECT_FALSE(meter.ReplyThreadMayRun(101));  // more than kMostNsOnReplyThread together
  meter.Record(0, 0);                          // nothing made: ignored
  EXPECT_EQ(meter.mean_ns(), 2'000);
}

TEST(CallMeterTest, OneSlowCallLiftsTheMeanPastTheLimitAndFastOnesBringItBack) {
  CallMeter meter(20'000);
  meter.Record(16'000, 16);  // 1 µs a call
  ASSERT_TRUE(meter.ReplyThreadMayRun(1));
  meter.Record(5'000'000);  // one call of 5 ms: the mean moves an eighth of the way
  EXPECT_EQ(meter.mean_ns(), 1'000 + (5'000'000 - 1'000) / 8);
  EXPECT_FALSE(meter.ReplyThreadMayRun(1));
  int records = 0;
  while (!meter.ReplyThreadMayRun(1) && records < 100) {
    meter.Record(1'000);
    ++records;
  }
  EXPECT_TRUE(meter.ReplyThreadMayRun(1));
  EXPECT_GT(records, 10);  // an eighth at a time from 626 µs down to 20
}

TEST(CallMeterTest, ALimitOfZeroKeepsEveryCallOffReplyThreads) {
  CallMeter meter(0);
  meter.Record(0, 1'000);
  EXPECT_FALSE(meter.ReplyThreadMayRun(1));
}

TEST(CallMeterTest, CallsSlowerThanTheLimitStayOff) {
  CallMeter meter(20'000);
  meter.Record(16 * 21'000, 16);
  EXPECT_FALSE(meter.ReplyThreadMayRun(1));
  meter.Record(16 * 13'000, 16);  // 21 + (13 - 21) / 8 = 20 µs: at the limit again
  EXPECT_TRUE(meter.ReplyThreadMayRun(1));
}

}  // namespace
}  // namespace mq::client
