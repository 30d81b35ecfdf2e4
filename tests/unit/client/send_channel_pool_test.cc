#include "send_channel_pool.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace mq::client {
namespace {

// What a connection's stub stands for here: which connection it is.
struct Connection {
  int index;
};

struct PoolOf {
  explicit PoolOf(int max) : pool(std::make_shared<Connection>(Connection{0}), max, Open()) {}
  SendChannelPool<Connection>::Open Open() {
    return [this](int index) {
      opened.push_back(index);
      return std::make_shared<Connection>(Connection{index});
    };
  }
  std::vector<int> opened;
  SendChannelPool<Connection> pool;
};

TEST(SendChannelPoolTest, OneSendAtATimeKeepsTheFirstConnection) {
  PoolOf p(4);
  for (int i = 0; i < 10; ++i) {
    auto taken = p.pool.Take();
    EXPECT_EQ(taken.stub->index, 0);
  }  // each lease ends before the next send
  EXPECT_TRUE(p.opened.empty());
  EXPECT_EQ(p.pool.connections(), 1);
}

TEST(SendChannelPoolTest, SendsInFlightTogetherOpenConnectionsUpToTheLimit) {
  PoolOf p(3);
  std::vector<SendChannelPool<Connection>::Taken> in_flight;
  for (int i = 0; i < 3; ++i) in_flight.push_back(p.pool.Take());
  EXPECT_EQ(in_flight[0].stub->index, 0);
  EXPECT_EQ(in_flight[1].stub->index, 1);
  EXPECT_EQ(in_flight[2].stub->index, 2);
  EXPECT_EQ(p.opened, (std::vector<int>{1, 2}));
  // At the limit the least busy connection takes the next sends, never a fourth one.
  in_flight.push_back(p.pool.Take());
  in_flight.push_back(p.pool.Take());
  EXPECT_EQ(p.pool.connections(), 3);
  EXPECT_EQ(in_flight[3].stub->index, 0);
  EXPECT_EQ(in_flight[4].stub->index, 1);
}

TEST(SendChannelPoolTest, AReleasedLeaseMakesItsConnectionTheIdleOne) {
  PoolOf p(2);
  auto a = p.pool.Take();
  auto b = p.pool.Take();
  ASSERT_EQ(b.stub->index, 1);
  b.lease.reset();  // the send on connection 1 has completed
  auto c = p.pool.Take();
  EXPECT_EQ(c.stub->index, 1);
  a.lease.reset();
  c.lease.reset();
  EXPECT_EQ(p.pool.Take().stub->index, 0) << "ties go to the first connection";
}

TEST(SendChannelPoolTest, ALeaseMayOutliveThePool) {
  SendChannelPool<Connection>::Lease lease;
  {
    SendChannelPool<Connection> pool(std::make_shared<Connection>(Connection{0}), 2, nullptr);
    lease = pool.Take().lease;
  }
  lease.reset();  // gives its place back to a counter the pool no longer has (ASan checks)
}

TEST(SendChannelPoolTest, ALimitBelowOneMeansOneConnection) {
  PoolOf p(0);
  auto a = p.pool.Take();
  auto b = p.pool.Take();
  EXPECT_EQ(b.stub->index, 0);
  EXPECT_TRUE(p.opened.empty());
}

}  // namespace
}  // namespace mq::client
