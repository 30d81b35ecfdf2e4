// The power-cut model's rules, without FUSE: what survives a cut and what does not.
#include "fault/powercut/volatile_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>

#include <string>

namespace mq::powercut {
namespace {

std::string ReadAll(VolatileFs* fs, const std::string& path) {
  uint64_t fh = 0;
  if (fs->Open(path, &fh) != 0) return "<absent>";
  struct stat st {};
  fs->GetAttrByHandle(fh, &st);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  int n = fs->Read(fh, 0, out.size(), out.data());
  fs->Release(fh);
  return n < 0 ? "<error>" : out.substr(0, static_cast<size_t>(n));
}

uint64_t CreateWith(VolatileFs* fs, const std::string& path, const std::string& data) {
  uint64_t fh = 0;
  EXPECT_EQ(fs->Create(path, 0644, &fh), 0);
  EXPECT_EQ(fs->Write(fh, 0, data.data(), data.size()), static_cast<int>(data.size()));
  return fh;
}

int FsyncDir(VolatileFs* fs, const std::string& path) {
  uint64_t fh = 0;
  if (int rc = fs->OpenDir(path, &fh)) return rc;
  int rc = fs->FsyncDir(fh);
  fs->Release(fh);
  return rc;
}

void CutAndRemount(VolatileFs* fs) {
  fs->Cut();
  fs->Thaw();
}

TEST(VolatileFsTest, DurableFileAndDirectorySurviveCut) {
  VolatileFs fs;
  uint64_t fh = CreateWith(&fs, "/a", "hello");
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  fs.Release(fh);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/a"), "hello");
}

TEST(VolatileFsTest, WritesWithoutFsyncVanishAtCut) {
  VolatileFs fs;
  uint64_t fh = CreateWith(&fs, "/a", "hello");
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  ASSERT_EQ(fs.Write(fh, 5, " world", 6), 6);
  ASSERT_EQ(fs.Write(fh, 0, "J", 1), 1);
  EXPECT_EQ(ReadAll(&fs, "/a"), "Jello world");
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/a"), "hello");
}

TEST(VolatileFsTest, FsyncedFileWithoutDirectoryFsyncVanishes) {
  VolatileFs fs;
  uint64_t fh = CreateWith(&fs, "/new", "data");
  ASSERT_EQ(fs.Fsync(fh), 0);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/new"), "<absent>");
}

TEST(VolatileFsTest, DirectoryFsyncWithoutFileFsyncKeepsAnEmptyFile) {
  VolatileFs fs;
  CreateWith(&fs, "/new", "data");
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/new"), "");
}

TEST(VolatileFsTest, RenameWithoutDirectoryFsyncIsUndone) {
  VolatileFs fs;
  uint64_t old_fh = CreateWith(&fs, "/f", "old");
  ASSERT_EQ(fs.Fsync(old_fh), 0);
  uint64_t tmp_fh = CreateWith(&fs, "/f.tmp", "new");
  ASSERT_EQ(fs.Fsync(tmp_fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  ASSERT_EQ(fs.Rename("/f.tmp", "/f", 0), 0);
  EXPECT_EQ(ReadAll(&fs, "/f"), "new");
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/f"), "old");
  EXPECT_EQ(ReadAll(&fs, "/f.tmp"), "new");

  ASSERT_EQ(fs.Rename("/f.tmp", "/f", 0), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/f"), "new");
  EXPECT_EQ(ReadAll(&fs, "/f.tmp"), "<absent>");
}

TEST(VolatileFsTest, UnlinkWithoutDirectoryFsyncIsUndone) {
  VolatileFs fs;
  uint64_t fh = CreateWith(&fs, "/f", "keep");
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  fs.Release(fh);
  ASSERT_EQ(fs.Unlink("/f"), 0);
  EXPECT_EQ(ReadAll(&fs, "/f"), "<absent>");
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/f"), "keep");
}

TEST(VolatileFsTest, NewDirectoryNeedsItsParentFsynced) {
  VolatileFs fs;
  ASSERT_EQ(fs.Mkdir("/d", 0755), 0);
  uint64_t fh = CreateWith(&fs, "/d/x", "1");
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/d"), 0);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/d/x"), "<absent>");

  ASSERT_EQ(fs.Mkdir("/d", 0755), 0);
  fh = CreateWith(&fs, "/d/x", "1");
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/d"), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/d/x"), "1");
}

TEST(VolatileFsTest, TruncateAndFallocateAreVolatileUntilFsync) {
  VolatileFs fs;
  uint64_t fh = CreateWith(&fs, "/seg", std::string(10000, 'x'));
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  ASSERT_EQ(fs.Fallocate(fh, 0, 0, 1 << 20), 0);
  ASSERT_EQ(fs.Fallocate(fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 9000), 0);
  std::string live = ReadAll(&fs, "/seg");
  ASSERT_EQ(live.size(), 1u << 20);
  EXPECT_EQ(live.substr(0, 100), std::string(100, 'x'));
  EXPECT_EQ(live.substr(100, 9000), std::string(9000, '\0'));
  EXPECT_EQ(live.substr(9100, 900), std::string(900, 'x'));
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/seg"), std::string(10000, 'x'));
  ASSERT_EQ(fs.Truncate("/seg", 0, false, 10), 0);
  CutAndRemount(&fs);
  EXPECT_EQ(ReadAll(&fs, "/seg").size(), 10000u);
}

TEST(VolatileFsTest, ArmedCutHitsTheNthMatchingOperationBeforeItTakesEffect) {
  VolatileFs fs;
  int killed = 0;
  fs.SetOnCut([&] { ++killed; });
  ASSERT_EQ(fs.Mkdir("/cq", 0755), 0);
  uint64_t fh = CreateWith(&fs, "/cq/0", "");
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  fs.Arm("fsync", "/cq/*", 2);
  ASSERT_EQ(fs.Write(fh, 0, "a", 1), 1);
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(fs.Write(fh, 1, "b", 1), 1);
  EXPECT_EQ(fs.Fsync(fh), -EIO);
  EXPECT_EQ(killed, 1);
  EXPECT_EQ(fs.Write(fh, 2, "c", 1), -EIO) << "nothing happens after a cut";
  EXPECT_NE(fs.Status().find("last_cut=fsync /cq/0"), std::string::npos) << fs.Status();
  fs.Thaw();
  EXPECT_EQ(ReadAll(&fs, "/cq/0"), "<absent>") << "/cq itself was made durable, its entries never were";
}

TEST(VolatileFsTest, FailRuleRefusesMatchingOperationsUntilHealed) {
  VolatileFs fs;
  ASSERT_EQ(fs.Mkdir("/log", 0755), 0);
  uint64_t fh = CreateWith(&fs, "/log/1", "a");
  fs.Fail("fsync", "/log/*");
  EXPECT_EQ(fs.Fsync(fh), -EIO);
  EXPECT_EQ(fs.Write(fh, 1, "b", 1), 1) << "other operations still work";
  fs.Heal();
  EXPECT_EQ(fs.Fsync(fh), 0);
  EXPECT_FALSE(VolatileFs::IsKnownOp("fsnyc"));
}

TEST(VolatileFsTest, ReleaseOfAHandleFromBeforeTheCutDoesNotCloseANewOne) {
  VolatileFs fs;
  uint64_t fh = CreateWith(&fs, "/f", "x");
  ASSERT_EQ(fs.Fsync(fh), 0);
  ASSERT_EQ(FsyncDir(&fs, "/"), 0);
  fs.Cut();
  fs.Release(fh);  // the dying mount closes its files
  fs.Thaw();
  uint64_t again = 0;
  ASSERT_EQ(fs.Open("/f", &again), 0);
  ASSERT_EQ(fs.Unlink("/f"), 0);
  char c = 0;
  EXPECT_EQ(fs.Read(again, 0, 1, &c), 1) << "an unlinked file stays readable while open";
  EXPECT_EQ(c, 'x');
}

}  // namespace
}  // namespace mq::powercut
