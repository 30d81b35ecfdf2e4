// TopicConfigManager: the broker's topic table (RocketMQ TopicConfigManager), persisted as
// <storePathRootDir>/config/topics.json (+ topics.json.bak, the previous version).
//
// Owns: the topic -> mq::v1::TopicConfig map, the DataVersion and the change listener.
// Locks: mu_ guards all state and is never held across the listener or file I/O;
// persist_mu_ serialises mutations with their file write so the file always reflects the
// latest change (lock order persist_mu_ -> mu_). Readers (Get/All on the send path) only take
// mu_, so they never wait for an fsync. All methods are thread-safe.
// Lifecycle: construct, Load() once before use, then mutate and read from any thread.
// A failed file write leaves the in-memory change applied and returns the I/O error; the next
// successful write persists the whole table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"
#include "mq/v1/common.pb.h"

namespace mq::broker {

// RocketMQ system topic names (TopicValidator).
inline constexpr char kSelfTestTopic[] = "SELF_TEST_TOPIC";
inline constexpr char kAutoCreateTopicKeyTopic[] = "TBW102";
// Queue count a producer asks for when its request says <= 0 (DefaultMQProducer).
inline constexpr int32_t kDefaultProducerTopicQueueNums = 4;
inline constexpr int32_t kMaxTopicQueueNums = 1024;

class TopicConfigManager {
 public:
  struct Options {
    std::string cluster_name;
    std::string broker_name;
    // Queues of the TBW102 template, which caps auto-created topics. RocketMQ default 8.
    int32_t default_topic_queue_nums = 8;
    // autoCreateTopicEnable: unknown topics are created on first send. Default: true.
    bool auto_create_topic_enable = true;
  };

  // config_dir is <storePathRootDir>/config; created on first write. clock must outlive this.
  TopicConfigManager(std::string config_dir, Options options, const Clock* clock);
  TopicConfigManager(const TopicConfigManager&) = delete;
  TopicConfigManager& operator=(const TopicConfigManager&) = delete;

  // Reads topics.json (missing = empty; corrupt = falls back to .bak, else Corruption), then
  // ensures the system topics exist and persists if it added any. Does not fire the listener.
  Status Load();

  std::optional<mq::v1::TopicConfig> Get(const std::string& topic) const;
  std::vector<mq::v1::TopicConfig> All() const;  // sorted by name
  size_t Count() const;

  // Creates or replaces a topic after validation. A config equal to the stored one is a no-op
  // (no write, no version bump, no listener call).
  Status CreateOrUpdate(mq::v1::TopicConfig config);

  // Auto-create on send: returns the existing topic, or creates it with
  // min(requested_queue_nums (4 when <= 0), TBW102 queues) queues and perm RW.
  // NotFound when the topic is unknown and autoCreateTopicEnable is false.
  Result<mq::v1::TopicConfig> CreateOnSend(const std::string& topic, int32_t requested_queue_nums);

  // Returns the topic, creating it with the given queues and perm when absent, regardless of
  // autoCreateTopicEnable (RocketMQ createTopicInSendMessageBackMethod: %RETRY%<group> and
  // %DLQ%<group> topics, 1 queue, perm RW). Validates like CreateOrUpdate.
  Result<mq::v1::TopicConfig> CreateIfAbsent(const std::string& topic, int32_t queue_nums, int32_t perm);

  // NotFound when absent.
  Status Delete(const std::string& topic);

  // {timestamp of the last change, number of changes since construction, random id per instance}.
  mq::v1::DataVersion data_version() const;

  // Called after every change (outside any lock, after the file write), from the mutating thread.
  void SetChangeListener(std::function<void()> listener);

  const std::string& file_path() const { return file_path_; }

  // Validation used by CreateOrUpdate; error messages start with the offending field.
  static Status Validate(const mq::v1::TopicConfig& config);

 private:
  // Requires persist_mu_ held, mu_ not held.
  Status PersistLocked();
  void BumpVersionLocked();  // requires mu_
  void NotifyChanged();      // requires no lock
  // Adds the system topics that are missing; returns whether anything changed. Requires mu_.
  bool EnsureSystemTopicsLocked();

  const std::string file_path_;
  const Options options_;
  const Clock* const clock_;

  std::mutex persist_mu_;
  mutable std::mutex mu_;
  std::map<std::string, mq::v1::TopicConfig> topics_;  // GUARDED_BY(mu_)
  mq::v1::DataVersion data_version_;                   // GUARDED_BY(mu_)
  std::function<void()> listener_;                     // GUARDED_BY(mu_)
};

}  // namespace mq::broker
