#include "common/file_util.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "testutil/temp_dir.h"

namespace mq {
namespace {

TEST(FileUtilTest, OffsetFileNamesHaveTwentyDigits) {
  EXPECT_EQ(OffsetToFileName(0), "00000000000000000000");
  EXPECT_EQ(OffsetToFileName(1073741824), "00000000001073741824");
}

TEST(FileUtilTest, AtomicWriteReplacesWholeFile) {
  testing::TempDir dir;
  std::string path = dir.Sub("config/topics.json");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  auto content = ReadFileToString(path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(FileUtilTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_TRUE(ReadFileToString(dir.Sub("nope")).status().IsNotFound());
}

}  // namespace
}  // namespace mq
