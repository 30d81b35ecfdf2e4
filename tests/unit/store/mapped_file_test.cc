// MappedFile's write paths: appends through pwrite() are what readers of the mapping see, and
// the allocator's zeros ahead of the appender never land on a byte the appender wrote.
#include "broker/store/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testutil/temp_dir.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;

// Byte i of the appender's stream: never 0, so a zero in written data is always a lost byte.
char PatternByte(int64_t i) { return static_cast<char>('a' + i % 23); }

std::string ReadFile(const std::string& path, size_t n) {
  std::string out(n, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, out.data(), n, 0), static_cast<ssize_t>(n));
  ::close(fd);
  return out;
}

TEST(MappedFileTest, AppendsByWriteAreWhatTheMappingAndTheFileHold) {
  TempDir dir;
  auto file = MappedFile::Open(dir.Sub("seg"), 0, 64 * 1024, true, nullptr, AppendOptions{.by_write = true});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->Append("hello ", 6));
  ASSERT_TRUE((*file)->Append("world", 5));
  (*file)->WriteAt(0, "J", 1);
  EXPECT_EQ((*file)->wrote_position(), 11);
  EXPECT_EQ((*file)->View(0, 11), "Jello world");
  EXPECT_FALSE((*file)->Append(std::string(64 * 1024, 'x').data(), 64 * 1024));
  ASSERT_TRUE((*file)->Flush(nullptr).ok());
  EXPECT_EQ((*file)->flushed_position(), 11);
  EXPECT_EQ(ReadFile(dir.Sub("seg"), 11), "Jello world");
}

// Rss of the mapping that holds `addr` (the pages this process has mapped), from
// /proc/self/smaps, in kB.
int64_t RssKbOfMappingAt(const void* addr) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  const auto at = reinterpret_cast<uintptr_t>(addr);
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0;
    uintptr_t hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) {
      in_mapping = lo <= at && at < hi;
      continue;
    }
    int64_t kb = 0;
    if (in_mapping && std::sscanf(line.c_str(), "Rss: %ld kB", &kb) == 1) return kb;
  }
  return 0;
}

// More parts than one pwritev() takes (IOV_MAX = 1024), through both write paths.
TEST(MappedFileTest, GatheredAppendsLandBackToBackInBothModes) {
  for (bool by_write : {false, true}) {
    SCOPED_TRACE(by_write ? "pwritev" : "memcpy");
    TempDir dir;
    auto file =
        MappedFile::Open(dir.Sub("seg"), 0, 64 * 1024, true, nullptr, AppendOptions{.by_write = by_write});
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_TRUE((*file)->Append("head:", 5));
    std::string expected = "head:";
    std::vector<std::string> storage;
    for (int i = 0; i < 1500; ++i) storage.push_back(std::string(1 + i % 29, PatternByte(i)));
    storage.emplace_back();  // an empty part is allowed
    std::vector<std::string_view> parts(storage.begin(), storage.end());
    for (auto part : parts) expected.append(part);
    ASSERT_TRUE((*file)->AppendGathered(parts));
    EXPECT_EQ((*file)->wrote_position(), static_cast<int32_t>(expected.size()));
    EXPECT_EQ((*file)->View(0, static_cast<int32_t>(expected.size())), expected);
    // Parts that do not all fit write nothing.
    std::string big(64 * 1024 - expected.size(), 'z');
    EXPECT_FALSE((*file)->AppendGathered({"x", big}));
    EXPECT_EQ((*file)->wrote_position(), static_cast<int32_t>(expected.size()));
    ASSERT_TRUE((*file)->Flush(nullptr).ok());
    EXPECT_EQ(ReadFile(dir.Sub("seg"), expected.size()), expected);
  }
}

// With by_write, every append, short or long, is written through the fd (no page of this
// process's mapping is faulted in for it, so the flush's writeback has no writable mapping to
// shoot down); readers of the mapping and of the file see them all, in order.
TEST(MappedFileTest, WrittenAppendsShortOrLongStayOutOfTheMapping) {
  constexpr int32_t kSize = 1 << 20;
  constexpr int32_t kLong = 64 * 1024;
  TempDir dir;
  auto opened = MappedFile::Open(dir.Sub("seg"), 0, kSize, true, nullptr,
                                 AppendOptions{.by_write = true, .zero_ahead = true});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::shared_ptr<MappedFile> file = *opened;
  EXPECT_TRUE(file->by_write());
  EXPECT_FALSE(file->zeros_to_disk());
  ASSERT_EQ(*file->ZeroAhead(kSize), kSize);
  const void* base = file->View(0, 1).data();
  // ZeroAhead mapped the zeroed pages for readers; unmapped again, an append that went through
  // the mapping would map them back.
  ASSERT_EQ(::madvise(const_cast<void*>(base), kSize, MADV_DONTNEED), 0);
  const int64_t rss_before = RssKbOfMappingAt(base);
  EXPECT_EQ(rss_before, 0);
  std::string expected;
  for (int64_t i = 0; i < kLong; ++i) expected.push_back(PatternByte(i));
  ASSERT_TRUE(file->Append(expected.data(), kLong));
  EXPECT_EQ(RssKbOfMappingAt(base), rss_before) << "a long append was copied into the mapping";
  const std::string short_record(100, 'S');
  ASSERT_TRUE(file->AppendGathered({short_record.substr(0, 40), short_record.substr(40)}));
  expected += short_record;
  EXPECT_EQ(RssKbOfMappingAt(base), rss_before) << "a short append was copied into the mapping";
  ASSERT_TRUE(file->AppendGathered({expected.substr(0, kLong / 2), expected.substr(kLong / 2, kLong / 2)}));
  expected += expected.substr(0, kLong);
  ASSERT_EQ(file->wrote_position(), static_cast<int32_t>(expected.size()));
  EXPECT_EQ(file->View(0, file->wrote_position()), expected);
  ASSERT_TRUE(file->Flush(nullptr).ok());
  EXPECT_EQ(ReadFile(dir.Sub("seg"), expected.size()), expected);
}

TEST(MappedFileTest, ZeroAheadZeroesOnlyBeyondTheAppender) {
  TempDir dir;
  auto file = MappedFile::Open(dir.Sub("seg"), 0, 256 * 1024, true, nullptr,
                               AppendOptions{.by_write = true, .zero_ahead = true});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->zero_ahead());
  ASSERT_TRUE((*file)->Append("abc", 3));
  auto zeroed = (*file)->ZeroAhead(8192);
  ASSERT_TRUE(zeroed.ok()) << zeroed.status().ToString();
  EXPECT_EQ(*zeroed, 8192);
  EXPECT_EQ((*file)->View(0, 3), "abc");
  EXPECT_EQ((*file)->View(3, 8189), std::string(8189, '\0'));
  // Asking for less than is zeroed changes nothing; the end of the file caps the range.
  EXPECT_EQ(*(*file)->ZeroAhead(4096), 8192);
  EXPECT_EQ(*(*file)->ZeroAhead(1 << 30), 256 * 1024);
  ASSERT_TRUE((*file)->Append("def", 3));
  EXPECT_EQ(ReadFile(dir.Sub("seg"), 6), "abcdef");
}

// The zeros are written with pwrite(), which puts pages in the page cache but not in the
// process's page tables: ZeroAhead maps them (read-only), so the dispatcher's and the pull path's
// first reads of fresh records take no page fault.
TEST(MappedFileTest, ZeroAheadMapsTheZeroedPagesForReaders) {
  constexpr int32_t kSize = 1 << 20;
  TempDir dir;
  auto file = MappedFile::Open(dir.Sub("seg"), 0, kSize, true, nullptr,
                               AppendOptions{.by_write = true, .zero_ahead = true});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const void* base = (*file)->View(0, 1).data();
  ASSERT_EQ(RssKbOfMappingAt(base), 0);
  ASSERT_EQ(*(*file)->ZeroAhead(kSize / 2), kSize / 2);
  EXPECT_EQ(RssKbOfMappingAt(base), kSize / 2 / 1024);
  ASSERT_EQ(*(*file)->ZeroAhead(kSize), kSize);
  EXPECT_EQ(RssKbOfMappingAt(base), kSize / 1024);
}

// The allocator sleeps until the appender reaches a position instead of polling it: the
// wake-up runs once, from the append that reaches it (a single write or a gathered one), and can
// be cancelled.
TEST(MappedFileTest, WakeWhenWrittenToRunsOnceFromTheAppendThatReachesIt) {
  TempDir dir;
  auto opened = MappedFile::Open(dir.Sub("seg"), 0, 64 * 1024, true, nullptr,
                                 AppendOptions{.by_write = true, .zero_ahead = true});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::shared_ptr<MappedFile> file = *opened;
  int wakes = 0;
  file->WakeWhenWrittenTo(100, [&] { ++wakes; });
  const std::string record(40, 'r');
  ASSERT_TRUE(file->Append(record.data(), 40));                                  // ends at 40
  ASSERT_TRUE(file->AppendGathered({record.substr(0, 20), record.substr(20)}));  // 80
  EXPECT_EQ(wakes, 0);
  ASSERT_TRUE(file->Append(record.data(), 8));  // 88
  EXPECT_EQ(wakes, 0);
  ASSERT_TRUE(file->AppendGathered({record, record}));  // 168, past 100
  EXPECT_EQ(wakes, 1);
  ASSERT_TRUE(file->Append(record.data(), 40));
  EXPECT_EQ(wakes, 1) << "a wake-up ran twice";
  // Asking for a position already passed wakes on the next append; a cancelled ask never does.
  file->WakeWhenWrittenTo(0, [&] { ++wakes; });
  ASSERT_TRUE(file->Append(record.data(), 1));
  EXPECT_EQ(wakes, 2);
  file->WakeWhenWrittenTo(300, [&] { wakes += 100; });
  file->WakeWhenWrittenTo(300, nullptr);
  ASSERT_TRUE(file->Append(record.data(), 40));
  ASSERT_TRUE(file->AppendGathered({record, record, record}));
  EXPECT_GT(file->wrote_position(), 300);
  EXPECT_EQ(wakes, 2);
}

// The allocator zeroes just ahead of an appender that keeps crossing the zeroed end: every
// byte appended must survive, in the mapping and in the file.
TEST(MappedFileTest, ZeroAheadRacingTheAppenderLosesNoByte) {
  TempDir dir;
  constexpr int32_t kSize = 3 * 1024 * 1024;
  auto opened = MappedFile::Open(dir.Sub("seg"), 0, kSize, true, nullptr,
                                 AppendOptions{.by_write = true, .zero_ahead = true});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::shared_ptr<MappedFile> file = *opened;
  std::atomic<int32_t> zeroed_to{0};
  std::atomic<bool> done{false};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::thread zeroer([&] {
    for (int i = 0; !done.load() && std::chrono::steady_clock::now() < deadline; ++i) {
      auto zeroed = file->ZeroAhead(file->wrote_position() + 600 + (i % 7) * 300);
      ASSERT_TRUE(zeroed.ok()) << zeroed.status().ToString();
      zeroed_to.store(*zeroed);
    }
  });
  std::string record;
  int64_t written = 0;
  for (int i = 0; written < kSize && std::chrono::steady_clock::now() < deadline; ++i) {
    record.resize(i % 3 == 0 ? 2999 : 997);
    // Append only once the zeroes are ahead, so the record crosses their end.
    if (zeroed_to.load() <= written && zeroed_to.load() < kSize) {
      std::this_thread::yield();
      continue;
    }
    for (size_t k = 0; k < record.size(); ++k) record[k] = PatternByte(written + static_cast<int64_t>(k));
    auto n = static_cast<int32_t>(std::min<int64_t>(record.size(), kSize - written));
    ASSERT_TRUE(file->Append(record.data(), n));
    written += n;
  }
  done.store(true);
  zeroer.join();
  ASSERT_EQ(written, kSize);
  std::string on_disk = ReadFile(dir.Sub("seg"), kSize);
  auto mapped = file->View(0, kSize);
  for (int64_t i = 0; i < kSize; ++i) {
    ASSERT_EQ(mapped[static_cast<size_t>(i)], PatternByte(i)) << "mapping byte " << i;
    ASSERT_EQ(on_disk[static_cast<size_t>(i)], PatternByte(i)) << "file byte " << i;
  }
}

}  // namespace
}  // namespace mq::store
