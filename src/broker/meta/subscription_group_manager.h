// SubscriptionGroupManager: consumer group settings (RocketMQ SubscriptionGroupManager),
// persisted as <storePathRootDir>/config/subscriptionGroup.json (+ its mirror .bak).
//
// Durability: explicit changes (CreateOrUpdate, Delete) are written before they return;
// groups auto-created by pulls and heartbeats (FindOrAutoCreate) are written by a
// DeferredPersister within Options::persist_delay, coalesced, so a request thread never does
// file I/O. A kill -9 loses at most the groups auto-created during the last persist_delay
// (they are re-created, with defaults, on their next use); Flush() at shutdown loses none.
// Options::max_group_count caps the table (RESOURCE_EXHAUSTED past it).
//
// Owns: the group -> mq::v1::SubscriptionGroupConfig map and the DeferredPersister thread.
// Locks: mu_ guards the map and is never held across file I/O; persist_mu_ serialises file
// writes (lock order persist_mu_ -> mu_), so Get() and auto-creation never wait for an
// fsync. All methods are thread-safe.
// Lifecycle: construct, Load() once, then use from any thread; Flush() at shutdown (the
// destructor flushes too). A failed write keeps the in-memory change and returns the I/O
// error.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/v1/common.pb.h"

namespace mq::broker {

inline constexpr int32_t kMaxRetryMaxTimes = 1000;

class DeferredPersister;

class SubscriptionGroupManager {
 public:
  struct Options {
    // autoCreateSubscriptionGroup: unknown groups are created on first use. Default: true.
    bool auto_create = true;
    // maxSubscriptionGroupCount: most groups the table holds; 0 = no limit. Default: 0.
    size_t max_group_count = 0;
    // autoCreatePersistDelayMills: longest time an auto-created group stays in memory only.
    // Default: 1 s.
    std::chrono::milliseconds persist_delay{1000};
  };

  // config_dir is <storePathRootDir>/config.
  SubscriptionGroupManager(std::string config_dir, Options options);
  explicit SubscriptionGroupManager(std::string config_dir, bool auto_create_subscription_group = true);
  ~SubscriptionGroupManager();
  SubscriptionGroupManager(const SubscriptionGroupManager&) = delete;
  SubscriptionGroupManager& operator=(const SubscriptionGroupManager&) = delete;

  // Reads subscriptionGroup.json (missing = empty; corrupt = .bak fallback, else Corruption).
  Status Load();

  std::optional<mq::v1::SubscriptionGroupConfig> Get(const std::string& group) const;
  std::vector<mq::v1::SubscriptionGroupConfig> All() const;  // sorted by name
  size_t Count() const;

  // Validates, stores and persists before returning. An unchanged config is a no-op.
  // ResourceExhausted when it would add a group past max_group_count.
  Status CreateOrUpdate(mq::v1::SubscriptionGroupConfig config);
  // Many CreateOrUpdate and Delete in one write (a slave mirroring its master's table). Each
  // change is checked on its own; returns the first refusal (the rest still apply). A group to
  // delete that is absent is skipped.
  Status ApplyChanges(std::vector<mq::v1::SubscriptionGroupConfig> upserts,
                      const std::vector<std::string>& deletes);
  // NotFound when absent.
  Status Delete(const std::string& group);

  // Returns the group, auto-creating it with RocketMQ's defaults when enabled; otherwise
  // NotFound("consumer_group: subscription group 'X' does not exist and autoCreateSubscriptionGroup is
  // false"); ResourceExhausted when the table is full. Never does file I/O.
  Result<mq::v1::SubscriptionGroupConfig> FindOrAutoCreate(const std::string& group);

  // RocketMQ SubscriptionGroupConfig defaults for `group`.
  static mq::v1::SubscriptionGroupConfig DefaultConfig(const std::string& group);
  // Error messages start with the offending field.
  static Status Validate(const mq::v1::SubscriptionGroupConfig& config);

  // Writes the table now when anything changed since the last successful write.
  Status Flush();
  // Whether a change is in memory only.
  bool dirty() const;

  const std::string& file_path() const { return file_path_; }

 private:
  Status PersistLocked();                                      // requires persist_mu_, not mu_
  Status PersistIfDirty();                                     // takes persist_mu_
  Status CheckCapacityLocked(const std::string& group) const;  // requires mu_

  const std::string file_path_;
  const Options options_;

  std::mutex persist_mu_;
  mutable std::mutex mu_;
  std::map<std::string, mq::v1::SubscriptionGroupConfig> groups_;  // GUARDED_BY(mu_)
  uint64_t change_seq_ = 0;                                        // GUARDED_BY(mu_)
  uint64_t persisted_seq_ = 0;                                     // GUARDED_BY(mu_)
  // Declared last: its thread calls PersistIfDirty() and must stop before the rest dies.
  std::unique_ptr<DeferredPersister> deferred_;
};

}  // namespace mq::broker
