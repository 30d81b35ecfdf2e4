#include "broker/meta/topic_config_manager.h"

#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <random>
#include <utility>

#include "broker/meta/deferred_persister.h"
#include "broker/meta/json_file.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/perm.h"
#include "mq/v1/broker_meta.pb.h"

namespace mq::broker {
namespace {

std::string RandomStateVersion() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:016x}", gen());
}

mq::v1::TopicConfig MakeTopic(const std::string& name, int32_t queues, int32_t perm) {
  mq::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(queues);
  config.set_write_queue_nums(queues);
  config.set_perm(perm);
  return config;
}

Status ValidateTable(const google::protobuf::Message& message) {
  const auto& table = static_cast<const mq::v1::TopicConfigTable&>(message);
  for (const auto& [key, config] : table.topic_config_table()) {
    if (key.empty()) return Status::InvalidArgument("topic_config_table: empty topic key");
    if (!config.topic_name().empty() && config.topic_name() != key) {
      return Status::InvalidArgument(
          fmt::format("topic_config_table: key '{}' holds topic '{}'", key, config.topic_name()));
    }
    // What creating the topic would refuse: every NameServer refuses the broker's whole
    // registration for one such entry, which would leave every topic of the broker unroutable.
    mq::v1::TopicConfig named = config;
    named.set_topic_name(key);
    if (Status s = TopicConfigManager::Validate(named); !s.ok()) {
      return Status::InvalidArgument(fmt::format("topic_config_table['{}'].{}", key, s.message()));
    }
  }
  return Status::OK();
}

}  // namespace

TopicConfigManager::TopicConfigManager(std::string config_dir, Options options, const Clock* clock)
    : file_path_(std::move(config_dir) + "/topics.json"), options_(std::move(options)), clock_(clock) {
  data_version_.set_timestamp(clock_->NowMillis());
  data_version_.set_counter(0);
  data_version_.set_state_version(RandomStateVersion());
  deferred_ = std::make_unique<DeferredPersister>("topics", options_.persist_delay,
                                                  [this] { return PersistIfDirty(); });
}

TopicConfigManager::~TopicConfigManager() {
  (void)deferred_->Stop();
  (void)PersistIfDirty();  // also retries a failed synchronous write
}

Status TopicConfigManager::Validate(const mq::v1::TopicConfig& config) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", config.topic_name()));
  if (config.read_queue_nums() < 1 || config.read_queue_nums() > kMaxTopicQueueNums) {
    return Status::InvalidArgument(fmt::format("read_queue_nums: {} is out of range [1, {}]",
                                               config.read_queue_nums(), kMaxTopicQueueNums));
  }
  if (config.write_queue_nums() < 1 || config.write_queue_nums() > kMaxTopicQueueNums) {
    return Status::InvalidArgument(fmt::format("write_queue_nums: {} is out of range [1, {}]",
                                               config.write_queue_nums(), kMaxTopicQueueNums));
  }
  if (config.perm() < 0 || config.perm() > kPermAll) {
    return Status::InvalidArgument(fmt::format("perm: {} is out of range [0, {}]", config.perm(), kPermAll));
  }
  return Status::OK();
}

Status TopicConfigManager::Load() {
  std::lock_guard persist_lock(persist_mu_);
  mq::v1::TopicConfigTable table;
  MQ_ASSIGN_OR_RETURN(LoadSource source, LoadJsonFile(file_path_, &table, &ValidateTable));
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    topics_.clear();
    for (const auto& [name, config] : table.topic_config_table()) {
      mq::v1::TopicConfig copy = config;
      copy.set_topic_name(name);
      topics_.emplace(name, std::move(copy));
    }
    changed = EnsureSystemTopicsLocked();
    if (changed) BumpVersionLocked();
    MQ_LOG_INFO(Logger("broker"), "loaded topics file={} topics={} source={}", file_path_, topics_.size(),
                source == LoadSource::kBackup ? "backup" : "main");
  }
  // Rewrite the main file when it was restored from the backup or system topics were added.
  if (changed || source == LoadSource::kBackup) return PersistLocked();
  return Status::OK();
}

bool TopicConfigManager::EnsureSystemTopicsLocked() {
  std::vector<mq::v1::TopicConfig> wanted;
  wanted.push_back(MakeTopic(kSelfTestTopic, 1, kPermReadWrite));
  if (options_.auto_create_topic_enable) {
    wanted.push_back(MakeTopic(kAutoCreateTopicKeyTopic, options_.default_topic_queue_nums,
                               kPermInherit | kPermReadWrite));
  }
  for (const std::string* name : {&options_.cluster_name, &options_.broker_name}) {
    if (name->empty()) continue;
    Status valid = ValidateName("topic", *name);
    if (!valid.ok()) {
      MQ_LOG_WARN(Logger("broker"), "not creating system topic for name={}: {}", *name, valid.message());
      continue;
    }
    wanted.push_back(MakeTopic(*name, 1, kPermReadWrite));
  }
  bool changed = false;
  for (auto& config : wanted) {
    if (topics_.count(config.topic_name()) != 0) continue;
    MQ_LOG_INFO(Logger("broker"), "created system topic={} queues={}", config.topic_name(),
                config.write_queue_nums());
    std::string name = config.topic_name();
    topics_.emplace(std::move(name), std::move(config));
    changed = true;
  }
  return changed;
}

std::optional<mq::v1::TopicConfig> TopicConfigManager::Get(const std::string& topic) const {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::vector<mq::v1::TopicConfig> TopicConfigManager::All() const {
  std::lock_guard lock(mu_);
  std::vector<mq::v1::TopicConfig> out;
  out.reserve(topics_.size());
  for (const auto& [name, config] : topics_) out.push_back(config);
  return out;
}

size_t TopicConfigManager::Count() const {
  std::lock_guard lock(mu_);
  return topics_.size();
}

Status TopicConfigManager::CreateOrUpdate(mq::v1::TopicConfig config) {
  std::vector<mq::v1::TopicConfig> one;
  one.push_back(std::move(config));
  return ApplyChanges(std::move(one), {});
}

Status TopicConfigManager::ApplyChanges(std::vector<mq::v1::TopicConfig> upserts,
                                        const std::vector<std::string>& deletes) {
  Status first;
  auto keep_first = [&first](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  std::unique_lock persist_lock(persist_mu_);
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    for (auto& config : upserts) {
      if (Status s = Validate(config); !s.ok()) {
        keep_first(std::move(s));
        continue;
      }
      auto it = topics_.find(config.topic_name());
      if (it != topics_.end() && google::protobuf::util::MessageDifferencer::Equals(it->second, config))
        continue;
      if (it == topics_.end()) {
        if (Status s = CheckCapacityLocked(config.topic_name()); !s.ok()) {
          keep_first(std::move(s));
          continue;
        }
      }
      MQ_LOG_INFO(Logger("broker"), "{} topic={} read_queues={} write_queues={} perm={}",
                  it == topics_.end() ? "create" : "update", config.topic_name(), config.read_queue_nums(),
                  config.write_queue_nums(), PermToString(config.perm()));
      std::string name = config.topic_name();
      topics_[name] = std::move(config);
      changed = true;
    }
    for (const auto& topic : deletes) {
      if (topics_.erase(topic) == 0) continue;
      MQ_LOG_INFO(Logger("broker"), "deleted topic={}", topic);
      changed = true;
    }
    if (changed) BumpVersionLocked();
  }
  if (!changed) return first;
  std::vector<std::pair<DurableCallback, Status>> settled;
  keep_first(PersistLocked(&settled));
  persist_lock.unlock();
  RunSettled(std::move(settled));
  NotifyChanged();
  return first;
}

Result<mq::v1::TopicConfig> TopicConfigManager::CreateOnSend(const std::string& topic,
                                                             int32_t requested_queue_nums) {
  if (auto existing = Get(topic)) return *existing;
  MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
  if (!options_.auto_create_topic_enable) {
    return Status::NotFound(
        fmt::format("topic: topic '{}' does not exist and autoCreateTopicEnable is false", topic));
  }
  mq::v1::TopicConfig created;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second;  // created concurrently
    MQ_RETURN_IF_ERROR(CheckCapacityLocked(topic));
    int32_t template_queues = options_.default_topic_queue_nums;
    auto tmpl = topics_.find(kAutoCreateTopicKeyTopic);
    if (tmpl != topics_.end()) {
      if (!IsInherited(tmpl->second.perm())) {
        return Status::NotFound(fmt::format(
            "topic: topic '{}' does not exist and the template topic {} lacks the inherit permission", topic,
            kAutoCreateTopicKeyTopic));
      }
      template_queues = tmpl->second.write_queue_nums();
    }
    int32_t requested = requested_queue_nums > 0 ? requested_queue_nums : kDefaultProducerTopicQueueNums;
    int32_t queues = std::clamp(std::min(requested, template_queues), 1, kMaxTopicQueueNums);
    created = MakeTopic(topic, queues, kPermReadWrite);
    topics_.emplace(topic, created);
    BumpVersionLocked();
    MQ_LOG_INFO(Logger("broker"), "auto-created topic={} queues={}", topic, queues);
  }
  deferred_->MarkDirty();
  NotifyChanged();
  return created;
}

Result<mq::v1::TopicConfig> TopicConfigManager::CreateIfAbsent(const std::string& topic, int32_t queue_nums,
                                                               int32_t perm) {
  if (auto existing = Get(topic)) return *existing;
  mq::v1::TopicConfig created = MakeTopic(topic, queue_nums, perm);
  MQ_RETURN_IF_ERROR(Validate(created));
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second;  // created concurrently
    MQ_RETURN_IF_ERROR(CheckCapacityLocked(topic));
    topics_.emplace(topic, created);
    BumpVersionLocked();
    MQ_LOG_INFO(Logger("broker"), "created topic={} queues={} perm={}", topic, queue_nums,
                PermToString(perm));
  }
  deferred_->MarkDirty();
  NotifyChanged();
  return created;
}

Status TopicConfigManager::Delete(const std::string& topic) {
  std::unique_lock persist_lock(persist_mu_);
  {
    std::lock_guard lock(mu_);
    if (topics_.erase(topic) == 0) {
      return Status::NotFound(fmt::format("topic: topic '{}' does not exist", topic));
    }
    BumpVersionLocked();
    MQ_LOG_INFO(Logger("broker"), "deleted topic={}", topic);
  }
  std::vector<std::pair<DurableCallback, Status>> settled;
  Status s = PersistLocked(&settled);
  persist_lock.unlock();
  RunSettled(std::move(settled));
  NotifyChanged();
  return s;
}

mq::v1::DataVersion TopicConfigManager::data_version() const {
  std::lock_guard lock(mu_);
  return data_version_;
}

void TopicConfigManager::SetChangeListener(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void TopicConfigManager::BumpVersionLocked() {
  data_version_.set_timestamp(clock_->NowMillis());
  data_version_.set_counter(data_version_.counter() + 1);
  ++change_seq_;
}

Status TopicConfigManager::CheckCapacityLocked(const std::string& topic) const {
  if (options_.max_topic_count == 0 || topics_.size() < options_.max_topic_count) return Status::OK();
  return Status::ResourceExhausted(
      fmt::format("topic: cannot create '{}': broker {} already holds {} topics (maxTopicCount={}); delete "
                  "unused topics or raise maxTopicCount",
                  topic, options_.broker_name, topics_.size(), options_.max_topic_count));
}

Status TopicConfigManager::Flush() { return PersistIfDirty(); }

bool TopicConfigManager::dirty() const {
  std::lock_guard lock(mu_);
  return change_seq_ != persisted_seq_;
}

Status TopicConfigManager::PersistIfDirty() {
  std::vector<std::pair<DurableCallback, Status>> settled;
  Status s;
  {
    std::lock_guard persist_lock(persist_mu_);
    {
      std::lock_guard lock(mu_);
      if (change_seq_ == persisted_seq_) return Status::OK();
    }
    s = PersistLocked(&settled);
  }
  RunSettled(std::move(settled));
  return s;
}

void TopicConfigManager::WhenDurable(DurableCallback done) {
  {
    std::lock_guard lock(mu_);
    if (persisted_seq_ < change_seq_) {
      durable_waiters_.push_back({change_seq_, std::move(done)});
      done = nullptr;
    }
  }
  if (done) return done(Status::OK());
  deferred_->FlushSoon();  // without mu_: after Stop() it writes on this thread
}

void TopicConfigManager::RunSettled(std::vector<std::pair<DurableCallback, Status>> settled) {
  for (auto& [done, status] : settled) done(status);
}

Status TopicConfigManager::PersistLocked() {
  std::vector<std::pair<DurableCallback, Status>> settled;
  Status s = PersistLocked(&settled);
  RunSettled(std::move(settled));
  return s;
}

Status TopicConfigManager::PersistLocked(std::vector<std::pair<DurableCallback, Status>>* settled) {
  mq::v1::TopicConfigTable table;
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, config] : topics_) (*table.mutable_topic_config_table())[name] = config;
    *table.mutable_data_version() = data_version_;
    seq = change_seq_;
  }
  Status s = SaveJsonFile(file_path_, table);
  if (!s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "persist topics file={} failed: {}", file_path_, s.ToString());
  }
  std::lock_guard lock(mu_);
  if (s.ok()) persisted_seq_ = std::max(persisted_seq_, seq);
  // Waiters this write covered learn its outcome; a failed write is retried later, but a
  // waiting send must not hang on it.
  auto covered = std::stable_partition(durable_waiters_.begin(), durable_waiters_.end(),
                                       [seq](const DurableWaiter& w) { return w.seq > seq; });
  for (auto it = covered; it != durable_waiters_.end(); ++it) settled->emplace_back(std::move(it->done), s);
  durable_waiters_.erase(covered, durable_waiters_.end());
  return s;
}

void TopicConfigManager::NotifyChanged() {
  std::function<void()> listener;
  {
    std::lock_guard lock(mu_);
    listener = listener_;
  }
  if (listener) listener();
}

}  // namespace mq::broker
