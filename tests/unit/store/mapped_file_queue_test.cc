// MappedFileQueue's allocator thread: it zeroes the pages ahead of the appender when the
// appender needs them, and sleeps (without waking) while nobody appends.
#include "broker/store/mapped_file_queue.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;
using mq::testing::ThreadSwitches;
using mq::testing::WaitUntil;

// Whether the page holding byte `pos` of `file` is in the page cache: zeroed ahead (written),
// as a fallocated page nobody wrote is not.
bool PageCached(const MappedFile& file, int32_t pos) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto addr = reinterpret_cast<uintptr_t>(file.data() + pos) & ~(page - 1);
  unsigned char resident = 0;
  return mincore(reinterpret_cast<void*>(addr), page, &resident) == 0 && (resident & 1) != 0;
}

size_t SegmentsIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

constexpr AppendOptions kZeroAhead{.by_write = true, .zero_ahead = true};

TEST(MappedFileQueueTest, TheAllocatorZeroesFurtherOnceTheAppenderUsesUpPartOfTheLead) {
  TempDir dir;
  constexpr int32_t kLead = MappedFileQueue::kWarmAheadBytes;
  constexpr int32_t kStep = MappedFileQueue::kZeroWakeStepBytes;
  MappedFileQueue queue(dir.Sub("log"), kLead + 2 * kStep, /*prepare_next=*/true, nullptr, kZeroAhead);
  ASSERT_TRUE(queue.Load().ok());
  auto created = queue.GetLastOrCreate(0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::shared_ptr<MappedFile> file = *created;
  ASSERT_TRUE(WaitUntil([&] { return PageCached(*file, kLead - 1); })) << "the first lead was not zeroed";
  EXPECT_FALSE(PageCached(*file, kLead + kStep)) << "zeroed beyond the lead";
  // Appending past one step: the append that crosses it wakes the allocator, which zeroes a
  // lead ahead of where it finds the appender (at least the step).
  const std::string chunk(64 * 1024, 'a');
  while (file->wrote_position() <= kStep) {
    ASSERT_TRUE(file->Append(chunk.data(), static_cast<int32_t>(chunk.size())));
  }
  EXPECT_TRUE(WaitUntil([&] { return PageCached(*file, kStep + kLead - 1); }))
      << "the allocator did not zero ahead of the appender again";
}

TEST(MappedFileQueueTest, AnIdleAllocatorDoesNotWakeUp) {
  TempDir dir;
  MappedFileQueue queue(dir.Sub("log"), 1 << 20, /*prepare_next=*/true, nullptr, kZeroAhead);
  ASSERT_TRUE(queue.Load().ok());
  auto created = queue.GetLastOrCreate(0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::shared_ptr<MappedFile> file = *created;
  ASSERT_TRUE(file->Append("abc", 3));
  // Its work is done once the segment is zeroed to its end and the next one exists.
  ASSERT_TRUE(
      WaitUntil([&] { return PageCached(*file, file->size() - 1) && SegmentsIn(dir.Sub("log")) == 2; }));
  const int64_t before = ThreadSwitches(getpid(), "mq-allocate");
  // A window to count wake-ups in, not a synchronisation: polling every 5 ms woke it about 60
  // times in it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(ThreadSwitches(getpid(), "mq-allocate") - before, 2);
}

}  // namespace
}  // namespace mq::store
