// Fuzz target: the broker's metadata files as found on disk after a crash or an operator's
// edit: config/topics.json, config/subscriptionGroup.json, config/consumerOffset.json (each
// with its .bak fallback) and the store checkpoint.
// Input: byte 0 picks the file (bits 0-1) and whether a .bak is written too (bit 2: then the
// next length-prefixed piece is the main file and the rest the .bak); the rest is content.
// Properties: loading never crashes and refuses with a message; a table that loads is
// stable (a second manager on the same directory loads the same table), and the consumer
// offsets and checkpoint written back from what loaded read back identically.
#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/store/checkpoint.h"
#include "common/clock.h"
#include "fuzz_support.h"

namespace {

using mq::broker::ConsumerOffsetManager;
using mq::broker::SubscriptionGroupManager;
using mq::broker::TopicConfigManager;

// Field-by-field equality: serialized bytes would differ with map iteration order.
template <typename T>
bool SameTables(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(a[i], b[i])) return false;
  }
  return true;
}

void Topics(const std::string& config_dir) {
  TopicConfigManager::Options options;
  options.cluster_name = "DefaultCluster";
  options.broker_name = "broker-a";
  TopicConfigManager first(config_dir, options, mq::SystemClock::Default());
  mq::Status s = first.Load();
  if (!s.ok()) return mq::fuzz::CheckClearError(s, "TopicConfigManager::Load");
  TopicConfigManager second(config_dir, options, mq::SystemClock::Default());
  MQ_FUZZ_CHECK(second.Load().ok(), "topics.json that loaded once does not load again");
  MQ_FUZZ_CHECK(SameTables(first.All(), second.All()), "topics differ between two loads");
}

void Groups(const std::string& config_dir) {
  SubscriptionGroupManager first(config_dir);
  mq::Status s = first.Load();
  if (!s.ok()) return mq::fuzz::CheckClearError(s, "SubscriptionGroupManager::Load");
  SubscriptionGroupManager second(config_dir);
  MQ_FUZZ_CHECK(second.Load().ok(), "subscriptionGroup.json that loaded once does not load again");
  MQ_FUZZ_CHECK(SameTables(first.All(), second.All()), "groups differ between two loads");
}

void Offsets(const std::string& config_dir) {
  ConsumerOffsetManager first(config_dir);
  mq::Status s = first.Load();
  if (!s.ok()) return mq::fuzz::CheckClearError(s, "ConsumerOffsetManager::Load");
  const mq::v1::ConsumerOffsetTable before = first.Snapshot();
  first.MergeFrom(first.Snapshot());
  mq::Status persisted = first.Persist();
  MQ_FUZZ_CHECK(persisted.ok(), "offsets that loaded cannot be written back: " + persisted.ToString());
  ConsumerOffsetManager second(config_dir);
  mq::Status reloaded = second.Load();
  MQ_FUZZ_CHECK(reloaded.ok(), "offsets written back do not load: " + reloaded.ToString());
  MQ_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(second.Snapshot(), before),
                "offsets changed in a persist round trip");
}

void Checkpoint(const std::string& path) {
  auto cp = mq::store::StoreCheckpoint::Load(path);
  if (!cp.ok()) return mq::fuzz::CheckClearError(cp.status(), "StoreCheckpoint::Load");
  const std::string copy = path + ".again";
  MQ_FUZZ_CHECK(cp->Save(copy).ok(), "checkpoint cannot be saved");
  auto back = mq::store::StoreCheckpoint::Load(copy);
  MQ_FUZZ_CHECK(
      back.ok() && back->physic_offset == cp->physic_offset && back->logic_offset == cp->logic_offset &&
          back->physic_timestamp == cp->physic_timestamp && back->logic_timestamp == cp->logic_timestamp,
      "checkpoint changed in a save/load round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mq::fuzz::QuietLogging();
  static mq::fuzz::ScratchDir dir;
  dir.Clear();
  mq::fuzz::ByteReader reader(data, size);
  const uint8_t selector = reader.Byte();
  std::string_view main_file = (selector & 4) != 0 ? reader.Piece() : reader.Rest();
  std::string_view backup = reader.Rest();
  static constexpr const char* kNames[] = {"topics.json", "subscriptionGroup.json", "consumerOffset.json",
                                           "checkpoint"};
  const int kind = selector & 3;
  const std::string config_dir = dir.path() + "/config";
  const std::string path = (kind == 3 ? dir.path() : config_dir) + "/" + kNames[kind];
  mq::fuzz::WriteFileOrDie(path, main_file);
  if ((selector & 4) != 0) mq::fuzz::WriteFileOrDie(path + ".bak", backup);
  switch (kind) {
    case 0:
      Topics(config_dir);
      break;
    case 1:
      Groups(config_dir);
      break;
    case 2:
      Offsets(config_dir);
      break;
    default:
      Checkpoint(path);
      break;
  }
  return 0;
}
