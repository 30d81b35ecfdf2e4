#include "broker/meta/json_file.h"

#include <gtest/gtest.h>

#include "mq/v1/broker_meta.pb.h"
#include "test_files.h"
#include "testutil/temp_dir.h"

namespace mq::broker {
namespace {

using testing::Overwrite;
using testing::ReadOrDie;

mq::v1::ConsumerOffsetTable Table(int64_t offset) {
  mq::v1::ConsumerOffsetTable table;
  (*(*table.mutable_offset_table())["T@G"].mutable_offsets())[0] = offset;
  return table;
}

int64_t OffsetOf(const mq::v1::ConsumerOffsetTable& table) {
  return table.offset_table().at("T@G").offsets().at(0);
}

class JsonFileTest : public ::testing::Test {
 protected:
  mq::testing::TempDir dir_;
  std::string path_ = dir_.Sub("config/t.json");
};

TEST_F(JsonFileTest, MissingFileLoadsNothing) {
  mq::v1::ConsumerOffsetTable table;
  auto source = LoadJsonFile(path_, &table);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ(*source, LoadSource::kNone);
  EXPECT_EQ(table.offset_table_size(), 0);
}

TEST_F(JsonFileTest, RoundTripsWithSnakeCaseNamesAndMirrorsTheLatestVersionAsBak) {
  ASSERT_TRUE(SaveJsonFile(path_, Table(1)).ok());
  std::string first = ReadOrDie(path_);
  EXPECT_NE(first.find("\"offset_table\""), std::string::npos) << first;
  EXPECT_EQ(ReadOrDie(path_ + ".bak"), first);
  ASSERT_TRUE(SaveJsonFile(path_, Table(2)).ok());
  EXPECT_EQ(ReadOrDie(path_ + ".bak"), ReadOrDie(path_));

  mq::v1::ConsumerOffsetTable loaded;
  auto source = LoadJsonFile(path_, &loaded);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(*source, LoadSource::kMain);
  EXPECT_EQ(OffsetOf(loaded), 2);
}

TEST_F(JsonFileTest, IgnoresUnknownFields) {
  Overwrite(path_, R"({"offset_table": {"T@G": {"offsets": {"0": "7"}}}, "future_field": 1})");
  mq::v1::ConsumerOffsetTable loaded;
  ASSERT_TRUE(LoadJsonFile(path_, &loaded).ok());
  EXPECT_EQ(OffsetOf(loaded), 7);
}

TEST_F(JsonFileTest, CorruptFileWithoutBackupIsCorruptionNamingTheFile) {
  Overwrite(path_, "{\"offset_table\": {\"T@G\": ");
  mq::v1::ConsumerOffsetTable loaded;
  auto source = LoadJsonFile(path_, &loaded);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kCorruption);
  EXPECT_NE(source.status().message().find(path_), std::string::npos) << source.status().message();
}

TEST_F(JsonFileTest, EmptyFileIsCorruption) {
  Overwrite(path_, "  \n");
  mq::v1::ConsumerOffsetTable loaded;
  EXPECT_EQ(LoadJsonFile(path_, &loaded).status().code(), StatusCode::kCorruption);
}

TEST_F(JsonFileTest, CorruptMainFallsBackToBackup) {
  ASSERT_TRUE(SaveJsonFile(path_, Table(1)).ok());
  ASSERT_TRUE(SaveJsonFile(path_, Table(2)).ok());
  Overwrite(path_, "garbage");
  mq::v1::ConsumerOffsetTable loaded;
  auto source = LoadJsonFile(path_, &loaded);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ(*source, LoadSource::kBackup);
  EXPECT_EQ(OffsetOf(loaded), 2) << "the backup holds the latest version";
}

TEST_F(JsonFileTest, BothCorruptIsCorruption) {
  Overwrite(path_, "garbage");
  Overwrite(path_ + ".bak", "also garbage");
  mq::v1::ConsumerOffsetTable loaded;
  auto source = LoadJsonFile(path_, &loaded);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kCorruption);
  EXPECT_NE(source.status().message().find(path_ + ".bak"), std::string::npos);
}

TEST_F(JsonFileTest, SaveAfterADamagedMainRewritesBothCopies) {
  ASSERT_TRUE(SaveJsonFile(path_, Table(1)).ok());
  Overwrite(path_, "garbage");
  ASSERT_TRUE(SaveJsonFile(path_, Table(3)).ok());
  mq::v1::ConsumerOffsetTable bak;
  Overwrite(path_, "garbage");
  ASSERT_TRUE(LoadJsonFile(path_, &bak).ok());
  EXPECT_EQ(OffsetOf(bak), 3);
}

TEST_F(JsonFileTest, ValidatorFailureCountsAsCorruption) {
  Overwrite(path_, R"({"offset_table": {"T@G": {"offsets": {"0": "7"}}}})");
  mq::v1::ConsumerOffsetTable loaded;
  auto reject = [](const google::protobuf::Message&) { return Status::InvalidArgument("bad key"); };
  auto source = LoadJsonFile(path_, &loaded, reject);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kCorruption);
  EXPECT_NE(source.status().message().find("bad key"), std::string::npos);
}

}  // namespace
}  // namespace mq::broker
