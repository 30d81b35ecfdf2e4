#include "broker/meta/subscription_group_manager.h"

#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <utility>

#include "broker/meta/deferred_persister.h"
#include "broker/meta/json_file.h"
#include "common/logging.h"
#include "common/naming.h"
#include "mq/v1/broker_meta.pb.h"

namespace mq::broker {
namespace {

Status ValidateTable(const google::protobuf::Message& message) {
  const auto& table = static_cast<const mq::v1::SubscriptionGroupTable&>(message);
  for (const auto& [key, config] : table.subscription_group_table()) {
    if (key.empty()) return Status::InvalidArgument("subscription_group_table: empty group key");
    if (!config.group_name().empty() && config.group_name() != key) {
      return Status::InvalidArgument(
          fmt::format("subscription_group_table: key '{}' holds group '{}'", key, config.group_name()));
    }
  }
  return Status::OK();
}

}  // namespace

SubscriptionGroupManager::SubscriptionGroupManager(std::string config_dir, Options options)
    : file_path_(std::move(config_dir) + "/subscriptionGroup.json"), options_(options) {
  deferred_ = std::make_unique<DeferredPersister>("subscription groups", options_.persist_delay,
                                                  [this] { return PersistIfDirty(); });
}

SubscriptionGroupManager::SubscriptionGroupManager(std::string config_dir,
                                                   bool auto_create_subscription_group)
    : SubscriptionGroupManager(std::move(config_dir),
                               Options{.auto_create = auto_create_subscription_group}) {}

SubscriptionGroupManager::~SubscriptionGroupManager() {
  (void)deferred_->Stop();
  (void)PersistIfDirty();  // also retries a failed synchronous write
}

mq::v1::SubscriptionGroupConfig SubscriptionGroupManager::DefaultConfig(const std::string& group) {
  mq::v1::SubscriptionGroupConfig config;
  config.set_group_name(group);
  config.set_consume_enable(true);
  config.set_consume_from_min_enable(true);
  config.set_consume_broadcast_enable(true);
  config.set_retry_queue_nums(1);
  config.set_retry_max_times(16);
  config.set_broker_id(0);
  config.set_which_broker_when_consume_slowly(1);
  config.set_notify_consumer_ids_changed_enable(true);
  config.set_consume_message_orderly(false);
  return config;
}

Status SubscriptionGroupManager::Validate(const mq::v1::SubscriptionGroupConfig& config) {
  MQ_RETURN_IF_ERROR(ValidateName("group_name", config.group_name()));
  if (config.retry_queue_nums() < 0) {
    return Status::InvalidArgument(
        fmt::format("retry_queue_nums: {} must not be negative", config.retry_queue_nums()));
  }
  if (config.retry_max_times() < 0 || config.retry_max_times() > kMaxRetryMaxTimes) {
    return Status::InvalidArgument(fmt::format("retry_max_times: {} is out of range [0, {}]",
                                               config.retry_max_times(), kMaxRetryMaxTimes));
  }
  if (config.broker_id() < 0) {
    return Status::InvalidArgument(fmt::format("broker_id: {} must not be negative", config.broker_id()));
  }
  if (config.which_broker_when_consume_slowly() < 0) {
    return Status::InvalidArgument(fmt::format("which_broker_when_consume_slowly: {} must not be negative",
                                               config.which_broker_when_consume_slowly()));
  }
  return Status::OK();
}

Status SubscriptionGroupManager::Load() {
  std::lock_guard persist_lock(persist_mu_);
  mq::v1::SubscriptionGroupTable table;
  MQ_ASSIGN_OR_RETURN(LoadSource source, LoadJsonFile(file_path_, &table, &ValidateTable));
  {
    std::lock_guard lock(mu_);
    groups_.clear();
    for (const auto& [name, config] : table.subscription_group_table()) {
      mq::v1::SubscriptionGroupConfig copy = config;
      copy.set_group_name(name);
      groups_.emplace(name, std::move(copy));
    }
    MQ_LOG_INFO(Logger("broker"), "loaded subscription groups file={} groups={} source={}", file_path_,
                groups_.size(), source == LoadSource::kBackup ? "backup" : "main");
  }
  if (source == LoadSource::kBackup) return PersistLocked();
  return Status::OK();
}

std::optional<mq::v1::SubscriptionGroupConfig> SubscriptionGroupManager::Get(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  return it->second;
}

std::vector<mq::v1::SubscriptionGroupConfig> SubscriptionGroupManager::All() const {
  std::lock_guard lock(mu_);
  std::vector<mq::v1::SubscriptionGroupConfig> out;
  out.reserve(groups_.size());
  for (const auto& [name, config] : groups_) out.push_back(config);
  return out;
}

size_t SubscriptionGroupManager::Count() const {
  std::lock_guard lock(mu_);
  return groups_.size();
}

Status SubscriptionGroupManager::CreateOrUpdate(mq::v1::SubscriptionGroupConfig config) {
  std::vector<mq::v1::SubscriptionGroupConfig> one;
  one.push_back(std::move(config));
  return ApplyChanges(std::move(one), {});
}

Status SubscriptionGroupManager::ApplyChanges(std::vector<mq::v1::SubscriptionGroupConfig> upserts,
                                              const std::vector<std::string>& deletes) {
  Status first;
  auto keep_first = [&first](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  std::lock_guard persist_lock(persist_mu_);
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    for (auto& config : upserts) {
      if (Status s = Validate(config); !s.ok()) {
        keep_first(std::move(s));
        continue;
      }
      auto it = groups_.find(config.group_name());
      if (it != groups_.end() && google::protobuf::util::MessageDifferencer::Equals(it->second, config))
        continue;
      if (it == groups_.end()) {
        if (Status s = CheckCapacityLocked(config.group_name()); !s.ok()) {
          keep_first(std::move(s));
          continue;
        }
      }
      MQ_LOG_INFO(Logger("broker"), "{} subscription group={} retry_max_times={} consume_enable={}",
                  it == groups_.end() ? "create" : "update", config.group_name(), config.retry_max_times(),
                  config.consume_enable());
      std::string name = config.group_name();
      groups_[name] = std::move(config);
      changed = true;
    }
    for (const auto& group : deletes) {
      if (groups_.erase(group) == 0) continue;
      MQ_LOG_INFO(Logger("broker"), "deleted subscription group={}", group);
      changed = true;
    }
    if (changed) ++change_seq_;
  }
  if (!changed) return first;
  keep_first(PersistLocked());
  return first;
}

Status SubscriptionGroupManager::Delete(const std::string& group) {
  std::lock_guard persist_lock(persist_mu_);
  {
    std::lock_guard lock(mu_);
    if (groups_.erase(group) == 0) {
      return Status::NotFound(fmt::format("group_name: subscription group '{}' does not exist", group));
    }
    MQ_LOG_INFO(Logger("broker"), "deleted subscription group={}", group);
    ++change_seq_;
  }
  return PersistLocked();
}

Result<mq::v1::SubscriptionGroupConfig> SubscriptionGroupManager::FindOrAutoCreate(const std::string& group) {
  if (auto existing = Get(group)) return *existing;
  MQ_RETURN_IF_ERROR(ValidateName("consumer_group", group));
  if (!options_.auto_create) {
    return Status::NotFound(fmt::format(
        "consumer_group: subscription group '{}' does not exist and autoCreateSubscriptionGroup is false",
        group));
  }
  mq::v1::SubscriptionGroupConfig created = DefaultConfig(group);
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(group);
    if (it != groups_.end()) return it->second;  // created concurrently
    MQ_RETURN_IF_ERROR(CheckCapacityLocked(group));
    groups_.emplace(group, created);
    ++change_seq_;
    MQ_LOG_INFO(Logger("broker"), "auto-created subscription group={}", group);
  }
  deferred_->MarkDirty();
  return created;
}

Status SubscriptionGroupManager::CheckCapacityLocked(const std::string& group) const {
  if (options_.max_group_count == 0 || groups_.size() < options_.max_group_count) return Status::OK();
  return Status::ResourceExhausted(
      fmt::format("consumer_group: cannot create subscription group '{}': the broker already holds {} groups "
                  "(maxSubscriptionGroupCount={}); delete unused groups or raise maxSubscriptionGroupCount",
                  group, groups_.size(), options_.max_group_count));
}

Status SubscriptionGroupManager::Flush() { return PersistIfDirty(); }

bool SubscriptionGroupManager::dirty() const {
  std::lock_guard lock(mu_);
  return change_seq_ != persisted_seq_;
}

Status SubscriptionGroupManager::PersistIfDirty() {
  std::lock_guard persist_lock(persist_mu_);
  {
    std::lock_guard lock(mu_);
    if (change_seq_ == persisted_seq_) return Status::OK();
  }
  return PersistLocked();
}

Status SubscriptionGroupManager::PersistLocked() {
  mq::v1::SubscriptionGroupTable table;
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, config] : groups_) (*table.mutable_subscription_group_table())[name] = config;
    seq = change_seq_;
  }
  Status s = SaveJsonFile(file_path_, table);
  if (!s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "persist subscription groups file={} failed: {}", file_path_,
                 s.ToString());
    return s;
  }
  std::lock_guard lock(mu_);
  persisted_seq_ = std::max(persisted_seq_, seq);
  return s;
}

}  // namespace mq::broker
