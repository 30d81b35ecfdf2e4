#include "common/config_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/file_util.h"
#include "testutil/temp_dir.h"

namespace mq {
namespace {

struct SampleConfig {
  std::string broker_name = "broker-a";
  int64_t listen_port = 10911;
  bool auto_create = true;
  std::string role = "ASYNC_MASTER";
  double ratio = 0.4;
};

ConfigSchema SchemaFor(SampleConfig* c) {
  ConfigSchema s;
  s.AddString("brokerName", &c->broker_name, "name");
  s.AddInt("listenPort", &c->listen_port, 0, 65535, "port");
  s.AddBool("autoCreateTopicEnable", &c->auto_create, "auto");
  s.AddEnum("brokerRole", &c->role, {"ASYNC_MASTER", "SYNC_MASTER", "SLAVE"}, "role");
  s.AddDouble("accessMessageInMemoryMaxRatio", &c->ratio, 0, 100, "ratio");
  return s;
}

TEST(ConfigFileTest, ParsesCommentsBlanksAndSpaces) {
  auto map = ParseConfigText("# comment\n\n brokerName = broker-b \r\nlistenPort=10920\n", "t");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->at("brokerName"), "broker-b");
  EXPECT_EQ(map->at("listenPort"), "10920");
}

TEST(ConfigFileTest, LineWithoutEqualsNamesTheLine) {
  auto map = ParseConfigText("brokerName=a\nnonsense\n", "broker.conf");
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.status().message().find("broker.conf:2"), std::string::npos);
}

TEST(ConfigFileTest, PrecedenceFileThenSetThenFlags) {
  testing::TempDir dir;
  std::string path = dir.Sub("b.conf");
  ASSERT_TRUE(WriteFileAtomically(path, "brokerName=from-file\nlistenPort=1\nbrokerRole=SLAVE\n").ok());
  ConfigSources sources;
  sources.file = path;
  sources.sets = {"listenPort=2", "brokerName=from-set"};
  sources.flags = {{"brokerName", "from-flag"}};
  auto merged = MergeConfigSources(sources);
  ASSERT_TRUE(merged.ok());
  SampleConfig c;
  std::vector<std::string> unknown;
  ASSERT_TRUE(SchemaFor(&c).Apply(*merged, &unknown).ok());
  EXPECT_EQ(c.broker_name, "from-flag");
  EXPECT_EQ(c.listen_port, 2);
  EXPECT_EQ(c.role, "SLAVE");
  EXPECT_TRUE(unknown.empty());
}

TEST(ConfigFileTest, RewriteSetsEveryLineOfAKeyAndAppendsTheRest) {
  const std::string text =
      "# broker-a\r\nbrokerName = broker-a\n  brokerPermission = 6  \n#brokerPermission=2\n"
      "brokerPermission=7\nlistenPort=10911";
  const std::string out = RewriteConfigText(text, {{"brokerPermission", "4"}, {"slaveReadEnable", "true"}});
  EXPECT_EQ(out,
            "# broker-a\r\nbrokerName = broker-a\nbrokerPermission=4\n#brokerPermission=2\n"
            "brokerPermission=4\nlistenPort=10911\nslaveReadEnable=true\n");
  auto parsed = ParseConfigText(out, "out");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->at("brokerPermission"), "4");
  EXPECT_EQ(parsed->at("slaveReadEnable"), "true");
  EXPECT_EQ(parsed->at("brokerName"), "broker-a");
  EXPECT_EQ(RewriteConfigText("", {{"a", "1"}}), "a=1\n");
}

TEST(ConfigFileTest, UpdateRewritesTheTargetOfALink) {
  testing::TempDir dir;
  const std::string real = dir.Sub("real.conf");
  const std::string link = dir.Sub("link.conf");
  ASSERT_TRUE(WriteFileAtomically(real, "# keep me\nbrokerPermission=6\n").ok());
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  ASSERT_TRUE(UpdateConfigFile(link, {{"brokerPermission", "4"}}).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(*ReadFileToString(real), "# keep me\nbrokerPermission=4\n");
  Status missing = UpdateConfigFile(dir.Sub("none.conf"), {{"a", "1"}});
  EXPECT_TRUE(missing.IsNotFound()) << missing.ToString();
  EXPECT_NE(missing.message().find("none.conf"), std::string::npos);
}

// Before: the rewrite gave the file mode 0644 whatever it had (a 0600 file holding secrets
// became readable by every user).
TEST(ConfigFileTest, UpdateKeepsTheFilesPermissions) {
  testing::TempDir dir;
  const std::string path = dir.Sub("broker.conf");
  ASSERT_TRUE(WriteFileAtomically(path, "brokerPermission=6\n").ok());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(UpdateConfigFile(path, {{"brokerPermission", "4"}}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(*ReadFileToString(path), "brokerPermission=4\n");
}

TEST(ConfigFileTest, MissingFileIsAnError) {
  ConfigSources sources;
  sources.file = "/nonexistent/x.conf";
  EXPECT_TRUE(MergeConfigSources(sources).status().IsNotFound());
}

TEST(ConfigFileTest, InvalidValuesNameTheKey) {
  SampleConfig c;
  auto schema = SchemaFor(&c);
  auto bad = [&](ConfigMap m) { return schema.Apply(m, nullptr); };
  Status s = bad({{"listenPort", "abc"}});
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message().rfind("listenPort:", 0), 0u);
  EXPECT_TRUE(bad({{"listenPort", "70000"}}).IsInvalidArgument());
  EXPECT_TRUE(bad({{"autoCreateTopicEnable", "yes"}}).IsInvalidArgument());
  EXPECT_TRUE(bad({{"brokerRole", "MASTER"}}).IsInvalidArgument());
  EXPECT_TRUE(bad({{"accessMessageInMemoryMaxRatio", "x"}}).IsInvalidArgument());
}

TEST(ConfigFileTest, UnknownKeysReportedAndDumpShowsEffectiveValues) {
  SampleConfig c;
  auto schema = SchemaFor(&c);
  std::vector<std::string> unknown;
  ASSERT_TRUE(schema.Apply({{"bogusKey", "1"}, {"listenPort", "9"}}, &unknown).ok());
  EXPECT_EQ(unknown, std::vector<std::string>{"bogusKey"});
  EXPECT_NE(schema.Dump().find("listenPort=9\n"), std::string::npos);
  EXPECT_NE(schema.Dump().find("autoCreateTopicEnable=true\n"), std::string::npos);
}

TEST(ConfigFileTest, BadSetOption) {
  ConfigSources sources;
  sources.sets = {"novalue"};
  EXPECT_TRUE(MergeConfigSources(sources).status().IsInvalidArgument());
}

}  // namespace
}  // namespace mq
