#include "common/heap.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mq {
namespace {

TEST(UserSetMallocThresholdTest, LegacyVariableOrTunableEntryCounts) {
  EXPECT_FALSE(UserSetMallocThreshold(nullptr, nullptr, "trim_threshold"));
  EXPECT_TRUE(UserSetMallocThreshold("0", nullptr, "trim_threshold"));
  EXPECT_TRUE(UserSetMallocThreshold(nullptr, "glibc.malloc.trim_threshold=1", "trim_threshold"));
  EXPECT_TRUE(UserSetMallocThreshold(nullptr, "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1",
                                     "trim_threshold"));
  EXPECT_FALSE(UserSetMallocThreshold(nullptr, "glibc.malloc.mmap_threshold=1", "trim_threshold"));
  EXPECT_FALSE(UserSetMallocThreshold(nullptr, "glibc.malloc.trim_threshold_x=1", "trim_threshold"));
  EXPECT_FALSE(UserSetMallocThreshold(nullptr, "", "trim_threshold"));
}

// Behaviour, not settings (glibc has no getter): after tuning, a buffer below the mmap
// threshold comes from the heap (no extra mmapped block) and, freed, stays mapped as
// releasable top instead of being handed back to the kernel at once, which is what glibc does
// with fixed thresholds and its default 128 KiB trim threshold.
void ExpectFreedBufferStaysInTheHeap([[maybe_unused]] void (*tune)(), [[maybe_unused]] size_t bytes) {
#if !defined(__GLIBC__) || defined(__SANITIZE_ADDRESS__) || defined(MQ_TSAN)
  GTEST_SKIP() << "needs glibc's own malloc (sanitizers replace it)";
#else
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("GLIBC_TUNABLES")) {
    GTEST_SKIP() << "malloc thresholds set by the environment";
  }
  tune();
  const auto before = mallinfo2();
  auto* p = static_cast<char*>(std::malloc(bytes));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, bytes);
  EXPECT_EQ(mallinfo2().hblks, before.hblks) << "the buffer was mmapped";
  std::free(p);
  EXPECT_GE(mallinfo2().keepcost, bytes) << "the freed top was returned to the kernel";
#endif
}

TEST(TuneAllocatorTest, ClientsKeepAFreed3MiBBuffer) {
  ExpectFreedBufferStaysInTheHeap(TuneAllocatorForClients, 3 * 1024 * 1024);
}

TEST(TuneAllocatorTest, DaemonsKeepAFreed512KiBBuffer) {
  ExpectFreedBufferStaysInTheHeap(TuneAllocatorForLargeMessages, 512 * 1024);
}

}  // namespace
}  // namespace mq
