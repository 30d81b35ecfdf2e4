// mq_powercut_fs through the kernel: what a process sees after a power cut and a remount.
// These are the promises the crash tests rely on, checked with real syscalls (pwrite, fsync,
// rename, mmap + msync) against a real FUSE mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "fault/powercut/powercut_mount.h"
#include "testutil/temp_dir.h"

namespace mq::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<absent>";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& data, bool fsync_file) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  if (fsync_file) {
    ASSERT_EQ(::fsync(fd), 0);
  }
  ::close(fd);
}

void FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);
  ::close(fd);
}

class PowercutFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_ = std::make_unique<PowercutMount>(dir_.path());
    if (!mount_->mounted()) GTEST_SKIP() << mount_->skip_reason();
    root_ = mount_->root();
  }
  void PowerCut() {
    ASSERT_TRUE(mount_->Cut());
    ASSERT_TRUE(mount_->Remount()) << mount_->Log();
  }

  TempDir dir_;
  std::unique_ptr<PowercutMount> mount_;
  std::string root_;
};

TEST_F(PowercutFsTest, FsyncedDataSurvivesAndLaterWritesVanish) {
  WriteFile(root_ + "/f", "durable", true);
  FsyncDir(root_);
  int fd = ::open((root_ + "/f").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "+volatile", 9), 9);
  ::close(fd);  // close() is no durability point
  EXPECT_EQ(Slurp(root_ + "/f"), "durable+volatile");
  PowerCut();
  EXPECT_EQ(Slurp(root_ + "/f"), "durable");
}

TEST_F(PowercutFsTest, NewFileWithoutDirectoryFsyncVanishes) {
  WriteFile(root_ + "/new", "data", true);
  PowerCut();
  EXPECT_EQ(Slurp(root_ + "/new"), "<absent>");
}

TEST_F(PowercutFsTest, RenameWithoutDirectoryFsyncIsUndone) {
  WriteFile(root_ + "/meta.json", "old", true);
  WriteFile(root_ + "/meta.json.tmp", "new", true);
  FsyncDir(root_);
  ASSERT_EQ(::rename((root_ + "/meta.json.tmp").c_str(), (root_ + "/meta.json").c_str()), 0);
  PowerCut();
  EXPECT_EQ(Slurp(root_ + "/meta.json"), "old");
}

TEST_F(PowercutFsTest, MmapMsyncSurvivesAndUnsyncedDirtyPagesVanish) {
  const size_t size = 1 << 20;
  int fd = ::open((root_ + "/seg").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::posix_fallocate(fd, 0, size), 0);
  FsyncDir(root_);
  char* map = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  std::memcpy(map, "synced", 6);
  ASSERT_EQ(::msync(map, 4096, MS_SYNC), 0);
  std::memcpy(map + 8192, "dirty", 5);  // stays in the page cache, never msynced
  ::munmap(map, size);
  ::close(fd);
  EXPECT_EQ(Slurp(root_ + "/seg").substr(8192, 5), "dirty");
  PowerCut();
  std::string after = Slurp(root_ + "/seg");
  ASSERT_EQ(after.size(), size) << "the size became durable with the msync's fsync";
  EXPECT_EQ(after.substr(0, 6), "synced");
  EXPECT_EQ(after.substr(8192, 5), std::string(5, '\0'));
}

TEST_F(PowercutFsTest, ArmedCutFreezesAtTheNamedOperation) {
  ASSERT_EQ(::mkdir((root_ + "/cq").c_str(), 0755), 0);
  FsyncDir(root_);
  WriteFile(root_ + "/cq/0", "first", true);
  FsyncDir(root_ + "/cq");
  ASSERT_TRUE(mount_->Arm("fsync", "/cq/*", 1));
  int fd = ::open((root_ + "/cq/0").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "+second", 7), 7);
  EXPECT_EQ(::fsync(fd), -1);
  EXPECT_EQ(errno, EIO);
  ::close(fd);
  ASSERT_TRUE(mount_->WaitFrozen(std::chrono::seconds(5)));
  EXPECT_NE(mount_->Command("status").find("last_cut=fsync /cq/0"), std::string::npos);
  ASSERT_TRUE(mount_->Remount()) << mount_->Log();
  EXPECT_EQ(Slurp(root_ + "/cq/0"), "first");
}

TEST_F(PowercutFsTest, InjectedEioFailsOnlyMatchingOperations) {
  ASSERT_TRUE(mount_->Fail("fsync", "*/commitlog/*"));
  ASSERT_EQ(::mkdir((root_ + "/commitlog").c_str(), 0755), 0);
  int fd = ::open((root_ + "/commitlog/0").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::write(fd, "x", 1), 1);
  EXPECT_EQ(::fsync(fd), -1);
  EXPECT_EQ(errno, EIO);
  ::close(fd);
  WriteFile(root_ + "/other", "y", true);
  EXPECT_EQ(mount_->Command("fail fsnyc *"), "err unknown op 'fsnyc'");
}

}  // namespace
}  // namespace mq::testing
