// Full disk with the real mqbroker: its store lives on a small tmpfs this test mounts (and
// unmounts). Above diskSpaceWarningLevelRatio sends get UNAVAILABLE "disk full" while pulls
// keep serving; a commit log roll on a disk with no room left fails cleanly (no SIGBUS, no
// read-only latch); once space is freed sends are accepted again; and after a restart every
// acknowledged message reads back byte for byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "acked_messages.h"
#include "integration/grpc_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/tmpfs_mount.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
const char* const kTopic = "DiskFull";

// Small geometry so a few MiB of tmpfs hold a working store: 1 MiB commit log segments,
// 1000-unit consume queue segments and 84 KB index files.
std::vector<std::string> SmallStoreSets(const std::string& warning_ratio) {
  return {"mappedFileSizeCommitLog=1048576",
          "mappedFileSizeConsumeQueue=20000",
          "maxHashSlotNum=1000",
          "maxIndexNum=4000",
          "maxMessageSize=65536",
          "cleanResourceInterval=50",
          "diskSpaceCleanForciblyRatio=100",
          "diskMaxUsedSpaceRatio=95",
          "diskSpaceWarningLevelRatio=" + warning_ratio};
}

double Usage(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0 || vfs.f_blocks == 0) return -1;
  return 1.0 - static_cast<double>(vfs.f_bavail) / static_cast<double>(vfs.f_blocks);
}

int64_t TotalBytes(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return 0;
  return static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize);
}

// Writes `path` until the filesystem is full (ENOSPC) or `max_bytes` were written.
bool FillUp(const std::string& path, int64_t max_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::string chunk(64 * 1024, 'b');
  bool full = false;
  for (int64_t written = 0; written < max_bytes;) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n < 0) {
      full = errno == ENOSPC;
      break;
    }
    written += n;
  }
  ::close(fd);
  return full;
}

TEST(DiskFullTest, AboveTheWarningRatioSendsAreRefusedPullsServedAndFreedSpaceResumes) {
  TempDir dir;
  TmpfsMount tmpfs(dir.Sub("tmpfs"), 32 * kMiB);
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.skip_reason();
  BrokerProcess broker({"", tmpfs.dir() + "/store", "broker-a", SmallStoreSets("60")});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  std::mt19937_64 rng(12);
  AckedMessages acked;
  for (int i = 0; i < 40; ++i) ASSERT_GRPC_OK(acked.SendOne(broker.messaging(), kTopic, i % 4, rng));

  // Another tenant of the disk pushes usage to ~75%, above diskSpaceWarningLevelRatio=60.
  const std::string ballast = tmpfs.dir() + "/ballast";
  const double before = Usage(tmpfs.dir());
  ASSERT_LT(before, 0.5);
  const auto ballast_bytes =
      static_cast<off_t>((0.75 - before) * static_cast<double>(TotalBytes(tmpfs.dir())));
  {
    int fd = ::open(ballast.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::posix_fallocate(fd, 0, ballast_bytes), 0);
    ::close(fd);
  }
  // The next disk check (cleanResourceInterval=50 ms) turns sends away; the ones that land
  // before it are acknowledged and must survive like the rest.
  grpc::Status refused;
  ASSERT_TRUE(WaitUntil([&] {
    refused = acked.SendOne(broker.messaging(), kTopic, 0, rng);
    return !refused.ok();
  })) << "sends were still accepted at "
      << Usage(tmpfs.dir()) * 100 << "% usage";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_NE(refused.error_message().find("disk full"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("diskSpaceWarningLevelRatio"), std::string::npos)
      << refused.error_message();
  grpc::Status again = acked.SendOne(broker.messaging(), kTopic, 1, rng);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::UNAVAILABLE) << again.error_message();

  // Reads and pulls of what the broker holds go on.
  EXPECT_EQ(acked.VerifyDelivered(broker.messaging(), "while disk full"), acked.size());

  // Space freed (the ballast removed): sends are accepted again at the next check.
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  grpc::Status resumed;
  EXPECT_TRUE(WaitUntil([&] {
    resumed = acked.SendOne(broker.messaging(), kTopic, 2, rng);
    return resumed.ok();
  })) << resumed.error_message();
  EXPECT_EQ(RuntimeValue(broker.admin(), "storeStatus"), "OK");

  EXPECT_EQ(broker.Stop(), 0);
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  EXPECT_EQ(acked.VerifyDelivered(broker.messaging(), "after restart"), acked.size());
  EXPECT_EQ(broker.Stop(), 0);
}

TEST(DiskFullTest, CommitLogRollWithNoSpaceLeftFailsCleanlyAndResumesWhenFreed) {
  TempDir dir;
  TmpfsMount tmpfs(dir.Sub("tmpfs"), 16 * kMiB);
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.skip_reason();
  // diskSpaceWarningLevelRatio=100 switches the guard off: the roll itself meets ENOSPC.
  auto sets = SmallStoreSets("100");
  sets.push_back("flushDiskType=SYNC_FLUSH");
  BrokerProcess broker({"", tmpfs.dir() + "/store", "broker-a", sets});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  std::mt19937_64 rng(34);
  AckedMessages acked;
  for (int i = 0; i < 20; ++i) ASSERT_GRPC_OK(acked.SendOne(broker.messaging(), kTopic, i % 4, rng));

  const std::string ballast = tmpfs.dir() + "/ballast";
  ASSERT_TRUE(FillUp(ballast, 32 * kMiB)) << "the tmpfs did not fill up";
  // Segments are fallocated whole, so appends into the current (and the pre-allocated next)
  // segment still succeed; the first roll that needs a new file fails with ENOSPC.
  grpc::Status refused;
  for (int i = 0; i < 400 && refused.ok(); ++i) {
    refused = acked.SendOne(broker.messaging(), kTopic, i % 4, rng, 32 * 1024);
  }
  ASSERT_FALSE(refused.ok()) << "sends never failed on a full disk";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_NE(refused.error_message().find("for the next commit log segment"), std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find(std::strerror(ENOSPC)), std::string::npos)
      << refused.error_message();
  // No SIGBUS: the broker is alive, not latched read-only, and serves everything acked.
  EXPECT_TRUE(broker.process().running());
  EXPECT_EQ(RuntimeValue(broker.admin(), "storeStatus"), "OK");
  EXPECT_EQ(acked.VerifyDelivered(broker.messaging(), "with the disk full"), acked.size());

  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  grpc::Status resumed = acked.SendOne(broker.messaging(), kTopic, 0, rng, 32 * 1024);
  EXPECT_TRUE(resumed.ok()) << resumed.error_message();

  EXPECT_EQ(broker.Stop(), 0);
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  EXPECT_EQ(acked.VerifyDelivered(broker.messaging(), "after restart"), acked.size());
  EXPECT_EQ(broker.Stop(), 0);
}

}  // namespace
}  // namespace mq::testing
