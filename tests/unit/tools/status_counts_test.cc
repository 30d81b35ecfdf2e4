// StatusCounts (tools/benchmark/bench_util.h): the benchmarks' count of messages per outcome,
// which decides what a run reports as sent. Counting must lose nothing under many threads.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace mq::bench {
namespace {

TEST(StatusCountsTest, CountsEveryOutcomeOfManyThreadsAndListsThemSorted) {
  StatusCounts counts;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counts, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every thread adds the names in a different order, so several race to add each.
        counts.Add(i % 10 == (t % 10) ? "SLAVE_NOT_AVAILABLE" : "SEND_OK", 1);
        if (i % 1000 == 999) counts.Add("FLUSH_DISK_TIMEOUT", 2);
      }
    });
  }
  for (auto& t : threads) t.join();
  const int64_t flush_timeouts = int64_t{kThreads} * (kPerThread / 1000) * 2;
  const int64_t slaves = int64_t{kThreads} * kPerThread / 10;
  const int64_t ok = int64_t{kThreads} * kPerThread - slaves;
  EXPECT_EQ(counts.Json(), "{\"FLUSH_DISK_TIMEOUT\":" + std::to_string(flush_timeouts) +
                               ",\"SEND_OK\":" + std::to_string(ok) +
                               ",\"SLAVE_NOT_AVAILABLE\":" + std::to_string(slaves) + "}");
  EXPECT_EQ(counts.Text(), "FLUSH_DISK_TIMEOUT=" + std::to_string(flush_timeouts) + " SEND_OK=" +
                               std::to_string(ok) + " SLAVE_NOT_AVAILABLE=" + std::to_string(slaves));
}

TEST(StatusCountsTest, OutcomesBeyondItsCapacityAreCountedTogetherNotLost) {
  StatusCounts counts;
  EXPECT_EQ(counts.Json(), "{}");
  for (int i = 0; i < 40; ++i) counts.Add("E" + std::to_string(100 + i), 1);
  counts.Add("E100", 5);
  const std::string text = counts.Text();
  EXPECT_NE(text.find("E100=6"), std::string::npos) << text;
  EXPECT_NE(text.find("E130=1"), std::string::npos) << text;   // the 31st name has its own slot
  EXPECT_NE(text.find("OTHER=9"), std::string::npos) << text;  // the 32nd to the 40th
  EXPECT_EQ(text.find("E131"), std::string::npos) << text;
}

}  // namespace
}  // namespace mq::bench
