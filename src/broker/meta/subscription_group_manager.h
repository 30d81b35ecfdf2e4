// SubscriptionGroupManager: consumer group settings (RocketMQ SubscriptionGroupManager),
// persisted as <storePathRootDir>/config/subscriptionGroup.json (+ .bak, the previous version).
//
// Owns: the group -> mq::v1::SubscriptionGroupConfig map.
// Locks: mu_ guards the map and is never held across file I/O; persist_mu_ serialises
// mutations with their file write (lock order persist_mu_ -> mu_), so Get() never waits for an
// fsync. All methods are thread-safe.
// Lifecycle: construct, Load() once, then use from any thread. A failed write keeps the
// in-memory change and returns the I/O error.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/v1/common.pb.h"

namespace mq::broker {

inline constexpr int32_t kMaxRetryMaxTimes = 1000;

class SubscriptionGroupManager {
 public:
  // config_dir is <storePathRootDir>/config. auto_create_subscription_group mirrors
  // RocketMQ autoCreateSubscriptionGroup (default true).
  explicit SubscriptionGroupManager(std::string config_dir, bool auto_create_subscription_group = true);
  SubscriptionGroupManager(const SubscriptionGroupManager&) = delete;
  SubscriptionGroupManager& operator=(const SubscriptionGroupManager&) = delete;

  // Reads subscriptionGroup.json (missing = empty; corrupt = .bak fallback, else Corruption).
  Status Load();

  std::optional<mq::v1::SubscriptionGroupConfig> Get(const std::string& group) const;
  std::vector<mq::v1::SubscriptionGroupConfig> All() const;  // sorted by name
  size_t Count() const;

  // Validates, stores and persists. An unchanged config is a no-op.
  Status CreateOrUpdate(mq::v1::SubscriptionGroupConfig config);
  // NotFound when absent.
  Status Delete(const std::string& group);

  // Returns the group, auto-creating it with RocketMQ's defaults when enabled; otherwise
  // NotFound("consumer_group: subscription group 'X' does not exist and autoCreateSubscriptionGroup is
  // false").
  Result<mq::v1::SubscriptionGroupConfig> FindOrAutoCreate(const std::string& group);

  // RocketMQ SubscriptionGroupConfig defaults for `group`.
  static mq::v1::SubscriptionGroupConfig DefaultConfig(const std::string& group);
  // Error messages start with the offending field.
  static Status Validate(const mq::v1::SubscriptionGroupConfig& config);

  const std::string& file_path() const { return file_path_; }

 private:
  Status PersistLocked();  // requires persist_mu_, not mu_

  const std::string file_path_;
  const bool auto_create_;

  std::mutex persist_mu_;
  mutable std::mutex mu_;
  std::map<std::string, mq::v1::SubscriptionGroupConfig> groups_;  // GUARDED_BY(mu_)
};

}  // namespace mq::broker
