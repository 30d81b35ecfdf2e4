#include "backpressure.h"

#include <gtest/gtest.h>

#include <thread>

namespace mq::client {
namespace {

using std::chrono::milliseconds;

TEST(BackpressureTest, CountsRequestsAndBytes) {
  Backpressure bp(2, 100);
  ASSERT_TRUE(bp.Acquire(40, milliseconds(0)).ok());
  ASSERT_TRUE(bp.Acquire(60, milliseconds(0)).ok());
  EXPECT_EQ(bp.requests(), 2);
  EXPECT_EQ(bp.bytes(), 100);
  Status s = bp.Acquire(1, milliseconds(0));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("back_pressure_for_async_send_num"), std::string::npos) << s.ToString();
  bp.Release(60);
  s = bp.Acquire(61, milliseconds(0));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("back_pressure_for_async_send_size"), std::string::npos) << s.ToString();
  EXPECT_TRUE(bp.Acquire(60, milliseconds(0)).ok());
}

TEST(BackpressureTest, OneOversizedRequestIsAdmittedAlone) {
  Backpressure bp(10, 100);
  ASSERT_TRUE(bp.Acquire(500, milliseconds(0)).ok());
  EXPECT_FALSE(bp.Acquire(1, milliseconds(0)).ok());
  bp.Release(500);
  EXPECT_TRUE(bp.Acquire(1, milliseconds(0)).ok());
}

TEST(BackpressureTest, AWaiterGetsTheRoomAReleaseReturns) {
  Backpressure bp(1, 100);
  ASSERT_TRUE(bp.Acquire(10, milliseconds(0)).ok());
  Status got;
  std::thread waiter([&] { got = bp.Acquire(10, milliseconds(10'000)); });
  bp.Release(10);
  waiter.join();
  EXPECT_TRUE(got.ok()) << got.ToString();
  EXPECT_EQ(bp.requests(), 1);
}

}  // namespace
}  // namespace mq::client
