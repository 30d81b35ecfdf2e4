#include "common/thread_name.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/io_executor.h"

namespace mq {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadAndCutsAt15Bytes) {
  std::string short_name, long_name;
  std::thread([&] {
    SetCurrentThreadName("mq-dispatch");
    short_name = CurrentThreadName();
    SetCurrentThreadName("a-name-longer-than-fifteen-bytes");
    long_name = CurrentThreadName();
  }).join();
  EXPECT_EQ(short_name, "mq-dispatch");
  EXPECT_EQ(long_name, "a-name-longer-t");
}

TEST(ThreadNameTest, ExecutorThreadsCarryTheExecutorsName) {
  IoExecutor executor("mq-client-cb", 1);
  executor.Start();
  std::string name;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  executor.Post([&] {
    std::lock_guard lock(mu);
    name = CurrentThreadName();
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
  EXPECT_EQ(name, "mq-client-cb");
  lock.unlock();
  executor.Shutdown();
}

}  // namespace
}  // namespace mq
