// Writes the committed seed corpus of every fuzz target, one directory per target:
//   build/bin/fuzz_make_corpus tests/fuzz/corpus
// The seeds are well-formed inputs produced by the product's own encoders (records, JSON
// tables, checkpoint, serialized requests), so mutations start from the valid format.
// The same bytes on every run, except the DataVersion timestamps inside the metadata seeds.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/store/checkpoint.h"
#include "broker/store/message_format.h"
#include "common/clock.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "mq/v1/broker.pb.h"
#include "mq/v1/common.pb.h"
#include "sample_requests.h"

namespace {

namespace fs = std::filesystem;
std::string g_root;

// The selector byte most targets start with (a std::string: "\x00" + ... would be empty).
std::string Sel(int b) { return std::string(1, static_cast<char>(b)); }

void Put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root + "/" + target);
  std::ofstream(g_root + "/" + target + "/" + name, std::ios::binary) << bytes;
}

std::string Record(const std::string& topic, const std::string& body, const std::string& tags, int64_t phys) {
  mq::store::MessageInput in;
  in.topic = topic;
  in.body = body;
  in.born_timestamp = 1700000000000;
  if (!tags.empty()) in.properties["TAGS"] = tags;
  in.properties["UNIQ_KEY"] = "7F0000010000000000000001";
  in.properties["KEYS"] = "k1 k2";
  std::string rec;
  if (!mq::store::EncodeMessage(in, {0x7F000001, 10911}, &rec).ok()) std::abort();
  mq::store::FinalizeRecord(rec.data(), static_cast<int32_t>(rec.size()), 0, phys, 1700000000001);
  return rec;
}

void Records() {
  Put("record_decode", "message", Record("TopicTest", "hello", "TagA", 0));
  Put("record_decode", "empty_body", Record("T", "", "", 4096));
  Put("record_decode", "binary_body", Record("TopicTest", std::string("\x00\x01\x02\xff", 4), "TagB", 123));
  std::string blank(16, '\0');
  mq::store::EncodeBlank(blank.data(), 16);
  Put("record_decode", "blank", blank);
  Put("record_decode", "offset_msg_id", mq::store::CreateOffsetMessageId({0x7F000001, 10911}, 4096));
}

void Properties() {
  Put("message_properties", "raw", Sel(0) + "TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01id\x02");
  Put("message_properties", "raw_odd",
      Sel(0) +
          "TAGS\x01\x02\x01x\x02noval\x02__CRC32C\x01"
          "0000000000\x02");
  mq::v1::Message m;
  m.set_topic("TopicTest");
  m.set_tags("TagA");
  m.add_keys("k1");
  m.add_keys("k2");
  m.set_body("body");
  (*m.mutable_user_properties())["color"] = "blue";
  m.set_born_host("127.0.0.1:40000");
  Put("message_properties", "producer_message", Sel(1) + m.SerializeAsString());
  mq::v1::MessageExt ext;
  *ext.mutable_message() = m;
  (*ext.mutable_system_properties())["UNIQ_KEY"] = "id";
  Put("message_properties", "message_ext", Sel(2) + ext.SerializeAsString());
  std::string records = Record("TopicTest", "first", "TagA", 0);
  records += Record("TopicTest", "second", "", static_cast<int64_t>(records.size()));
  Put("message_properties", "pull_records", Sel(3) + records);
}

void Recovery() {
  constexpr int32_t kSegment = 4096;  // commit_log_recovery_fuzz.cc
  std::string seg;
  for (int i = 0; i < 3; ++i) {
    seg += Record("TopicTest", "message " + std::to_string(i), "TagA", static_cast<int64_t>(seg.size()));
  }
  Put("commit_log_recovery", "one_segment", Sel(0) + seg);
  Put("commit_log_recovery", "clean_with_checkpoint",
      Sel(3) + Sel(static_cast<int>(seg.size() >> 8)) + Sel(static_cast<int>(seg.size() & 0xFF)) + seg);
  std::string two = seg;
  std::string blank(static_cast<size_t>(kSegment) - two.size(), '\0');
  mq::store::EncodeBlank(blank.data(), static_cast<int32_t>(blank.size()));
  two += blank;
  two += Record("TopicTest", "in the second segment", "", kSegment);
  Put("commit_log_recovery", "rolled", Sel(0) + two);
  Put("commit_log_recovery", "torn_tail", Sel(0) + seg.substr(0, seg.size() - 7));
}

void Config() {
  Put("config_file", "broker.conf",
      Sel(0) +
          "# broker\nbrokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\n"
          "namesrvAddr = 127.0.0.1:9876;127.0.0.2:9876\nlistenPort = 10911\ndeleteWhen = 04\n"
          "fileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = ASYNC_FLUSH\n"
          "mappedFileSizeCommitLog = 1073741824\nslaveReadEnable = true\n");
  Put("config_file", "broker-slave.conf",
      std::string("\0", 1) +
          "brokerName=broker-a\nbrokerId=1\nbrokerRole=SLAVE\nhaMasterAddress=127.0.0.1:10912\n"
          "storePathRootDir=/tmp/store\n! bang comment\n");
  Put("config_file", "namesrv.conf", Sel(1) + "listenPort = 9876\nscanNotActiveBrokerInterval = 5000\n");
}

void Metadata() {
  const std::string dir = fs::temp_directory_path().string() + "/mq-make-corpus";
  fs::remove_all(dir);
  {
    mq::broker::TopicConfigManager::Options options;
    options.cluster_name = "DefaultCluster";
    options.broker_name = "broker-a";
    mq::broker::TopicConfigManager topics(dir, options, mq::SystemClock::Default());
    if (!topics.Load().ok()) std::abort();
    mq::v1::TopicConfig t;
    t.set_topic_name("TopicTest");
    t.set_read_queue_nums(4);
    t.set_write_queue_nums(4);
    t.set_perm(6);
    if (!topics.CreateOrUpdate(t).ok()) std::abort();
    mq::broker::SubscriptionGroupManager groups(dir);
    if (!groups.Load().ok()) std::abort();
    mq::v1::SubscriptionGroupConfig g;
    g.set_group_name("GroupA");
    g.set_consume_enable(true);
    g.set_retry_queue_nums(1);
    g.set_retry_max_times(16);
    if (!groups.CreateOrUpdate(g).ok()) std::abort();
    mq::broker::ConsumerOffsetManager offsets(dir);
    offsets.Commit("GroupA", "TopicTest", 0, 42);
    offsets.Commit("GroupA", "TopicTest", 3, 7);
    if (!offsets.Persist().ok()) std::abort();
    mq::store::StoreCheckpoint cp{4096, 2048, 1700000000000, 1700000000000};
    if (!cp.Save(dir + "/checkpoint").ok()) std::abort();
  }
  auto read = [&dir](const std::string& name) { return *mq::ReadFileToString(dir + "/" + name); };
  Put("metadata_files", "topics", Sel(0) + read("topics.json"));
  Put("metadata_files", "groups", Sel(1) + read("subscriptionGroup.json"));
  Put("metadata_files", "offsets", Sel(2) + read("consumerOffset.json"));
  Put("metadata_files", "checkpoint", Sel(3) + read("checkpoint"));
  std::string bad_main = "{\"topics\": [";
  Put("metadata_files", "offsets_with_bak",
      Sel(6) + Sel(static_cast<int>(bad_main.size())) + bad_main + read("consumerOffset.json"));
  fs::remove_all(dir);
}

void SqlFilters() {
  const std::string props = std::string("TAGS\x01TagA\x02n\x01") + "42\x02color\x01red\x02";
  auto with_props = [&](const std::string& sql) { return sql + std::string(1, '\0') + props; };
  Put("sql_filter", "compare", with_props("n > 5 AND n <= 100.5 OR n = -3 AND color <> 'blue'"));
  Put("sql_filter", "between_in", with_props("n NOT BETWEEN 1 AND 10 AND TAGS IN ('TagA', 'it''s')"));
  Put("sql_filter", "null_logic", with_props("NOT (missing IS NULL) OR color IS NOT NULL AND TRUE"));
  Put("sql_filter", "strings",
      with_props("color CONTAINS 'e' AND color NOT STARTSWITH 'b' AND color ENDSWITH 'd'"));
  Put("sql_filter", "comments", with_props("/* c */ n = 42 -- line\n AND +n >= 4.2E1"));
  Put("sql_filter", "syntax_error", with_props("n > 5 AND AND"));
  Put("sql_filter", "type_error", with_props("n > 'x' OR (n = 1) > 2"));
}

// SendMessageRequests as producers write them: the sample, a batch, and one of each kind the
// wire reader leaves to protobuf.
void SendWire() {
  for (const auto& s : mq::fuzz::BrokerSamples("TopicTest", "GroupA")) {
    if (s.method == 0) Put("send_wire", "sample", s.bytes);
  }
  mq::v1::SendMessageRequest batch;
  batch.set_topic("TopicTest");
  batch.set_queue_id(-1);
  for (int i = 0; i < 3; ++i) {
    auto* m = batch.add_messages();
    m->set_body(std::string(64, static_cast<char>('a' + i)));
    m->set_unique_key("7F000001000000000000000" + std::to_string(i));
    m->set_born_timestamp(1700000000000 + i);
    if (i == 1) {
      m->add_keys("k1");
      m->add_keys("k2");
    }
  }
  Put("send_wire", "batch", batch.SerializeAsString());
  mq::v1::SendMessageRequest odd = batch;
  odd.mutable_messages(0)->set_delay_level(3);
  odd.mutable_messages(1)->clear_unique_key();
  (*odd.mutable_messages(2)->mutable_user_properties())["TIMER_DELAY_SEC"] = "5";
  Put("send_wire", "left_to_protobuf", odd.SerializeAsString());
}

void SendReplies() {
  mq::v1::SendMessageResponse r;
  r.set_status(mq::v1::SEND_OK);
  r.set_broker_name("broker-a");
  r.set_queue_id(2);
  r.set_queue_offset(40);
  for (int i = 0; i < 3; ++i) {
    auto* e = r.add_entries();
    e->set_msg_id("7F00000100002A9F0000000000000" + std::to_string(i));
    e->set_offset_msg_id("7F00000100002A9F000000000000100" + std::to_string(i));
    e->set_queue_offset(40 + i);
    e->set_commit_log_offset(4096 + i * 1200);
  }
  Put("send_reply", "batch", r.SerializeAsString());
  r.set_status(mq::v1::FLUSH_DISK_TIMEOUT);
  r.mutable_entries(0)->set_recall_handle("djEgVCBicm9rZXItYSAxNzAwMDAwMDAwMDAwIGlk");
  r.set_queue_id(-1);
  Put("send_reply", "odd", r.SerializeAsString());
}

void PullReplies() {
  mq::v1::PullMessageResponse r;
  r.set_status(mq::v1::FOUND);
  r.set_next_begin_offset(3);
  r.set_max_offset(3);
  mq::store::MessageInput with_properties;
  with_properties.topic = "TopicTest";
  with_properties.queue_id = 1;
  with_properties.body = std::string(40, 'b');
  with_properties.properties = {{"UNIQ_KEY", "7F0000010000000000000002"},
                                {"KEYS", "k1  k3 "},
                                {"color", "blue"},
                                {"RECONSUME_TIME", "2"},
                                {"zz-user", ""}};
  with_properties.reconsume_times = 2;
  std::string third;
  if (!mq::store::EncodeMessage(with_properties, {0x7F000001, 10911}, &third).ok()) std::abort();
  mq::store::FinalizeRecord(third.data(), static_cast<int32_t>(third.size()), 2, 8192, 1700000000002);
  r.set_records(Record("TopicTest", "hello", "TagA", 0) + Record("TopicTest", "", "", 4096) + third);
  Put("pull_reply", "found_records", r.SerializeAsString());
  r.clear_records();
  r.set_status(mq::v1::NO_NEW_MSG);
  r.set_min_offset(1);
  r.set_suggest_which_broker_id(1);
  Put("pull_reply", "no_new_msg", r.SerializeAsString());
  // A broker that sends no records: the consumer parses the MessageExt list with protobuf.
  r.set_status(mq::v1::FOUND);
  auto* ext = r.add_messages();
  ext->mutable_message()->set_topic("TopicTest");
  ext->mutable_message()->set_tags("TagA");
  ext->mutable_message()->add_keys("k1");
  ext->mutable_message()->set_body("body");
  (*ext->mutable_message()->mutable_user_properties())["color"] = "blue";
  ext->set_msg_id("7F0000010000000000000001");
  ext->set_queue_offset(2);
  (*ext->mutable_system_properties())["TAGS"] = "TagA";
  Put("pull_reply", "message_ext_list", r.SerializeAsString());
}

void Requests() {
  for (const auto& s : mq::fuzz::BrokerSamples("TopicTest", "GroupA")) {
    Put("broker_requests", "rpc_" + std::to_string(s.method), Sel(s.method) + s.bytes);
  }
  for (const auto& s : mq::fuzz::NamesrvSamples("TopicTest", "127.0.0.1:10911")) {
    Put("namesrv_requests", "rpc_" + std::to_string(s.method), Sel(s.method) + s.bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (e.g. tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  mq::LogOptions quiet;
  quiet.level = "off";
  quiet.to_stderr = false;
  (void)mq::InitLogging(quiet);
  g_root = argv[1];
  Records();
  Properties();
  Recovery();
  Config();
  Metadata();
  Requests();
  SendWire();
  SendReplies();
  PullReplies();
  SqlFilters();
  return 0;
}
