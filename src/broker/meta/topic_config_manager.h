// TopicConfigManager: the broker's topic table (RocketMQ TopicConfigManager), persisted as
// <storePathRootDir>/config/topics.json (+ its mirror topics.json.bak).
//
// Durability: explicit changes (CreateOrUpdate, Delete: mqadmin, metadata sync) are written
// before they return, as RocketMQ's updateTopic is. Topics created by client traffic
// (CreateOnSend, CreateIfAbsent) are only marked dirty: a DeferredPersister writes the table
// within Options::persist_delay, one write per burst, so the request thread never does file
// I/O and N auto-created topics do not cost N whole-table rewrites. A kill -9 loses at most
// the topics auto-created during the last persist_delay; Flush() (shutdown) loses none.
// Options::max_topic_count caps the table: creating a topic past it is RESOURCE_EXHAUSTED.
//
// Owns: the topic -> mq::v1::TopicConfig map, the DataVersion, the change listener and the
// DeferredPersister thread.
// Locks: mu_ guards all state and is never held across the listener or file I/O;
// persist_mu_ serialises file writes (lock order persist_mu_ -> mu_). Readers and the
// auto-create path only take mu_, so they never wait for an fsync. All methods are
// thread-safe.
// Lifecycle: construct, Load() once before use, then mutate and read from any thread;
// Flush() at shutdown (the destructor flushes too). A failed file write leaves the in-memory
// change applied and returns the I/O error; the next successful write persists the whole table.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"
#include "mq/v1/common.pb.h"

namespace mq::broker {

class DeferredPersister;

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
    // maxTopicCount: most topics the table holds, system topics included; 0 = no limit.
    // Default: 0.
    size_t max_topic_count = 0;
    // autoCreatePersistDelayMills: longest time an auto-created topic stays in memory only.
    // Default: 1 s.
    std::chrono::milliseconds persist_delay{1000};
  };

  // config_dir is <storePathRootDir>/config; created on first write. clock must outlive this.
  TopicConfigManager(std::string config_dir, Options options, const Clock* clock);
  ~TopicConfigManager();
  TopicConfigManager(const TopicConfigManager&) = delete;
  TopicConfigManager& operator=(const TopicConfigManager&) = delete;

  // Reads topics.json (missing = empty; corrupt = falls back to .bak, else Corruption), then
  // ensures the system topics exist and persists if it added any. Does not fire the listener.
  Status Load();

  std::optional<mq::v1::TopicConfig> Get(const std::string& topic) const;
  std::vector<mq::v1::TopicConfig> All() const;  // sorted by name
  size_t Count() const;

  // Creates or replaces a topic after validation and writes the table before returning. A
  // config equal to the stored one is a no-op (no write, no version bump, no listener call).
  // ResourceExhausted when it would add a topic past max_topic_count.
  Status CreateOrUpdate(mq::v1::TopicConfig config);
  // Many CreateOrUpdate and Delete in one write and one version change (a slave mirroring its
  // master's table of 50,000 topics). Each change is checked on its own; returns the first
  // refusal (the rest still apply). A topic to delete that is absent is skipped.
  Status ApplyChanges(std::vector<mq::v1::TopicConfig> upserts, const std::vector<std::string>& deletes);

  // Auto-create on send: returns the existing topic, or creates it with
  // min(requested_queue_nums (4 when <= 0), TBW102 queues) queues and perm RW.
  // NotFound when the topic is unknown and autoCreateTopicEnable is false; ResourceExhausted
  // when the table is full. Never does file I/O (the write is deferred, see above).
  Result<mq::v1::TopicConfig> CreateOnSend(const std::string& topic, int32_t requested_queue_nums);

  // Returns the topic, creating it with the given queues and perm when absent, regardless of
  // autoCreateTopicEnable (RocketMQ createTopicInSendMessageBackMethod: %RETRY%<group> and
  // %DLQ%<group> topics, 1 queue, perm RW). Validates like CreateOrUpdate; the write is
  // deferred like CreateOnSend's.
  Result<mq::v1::TopicConfig> CreateIfAbsent(const std::string& topic, int32_t queue_nums, int32_t perm);

  // NotFound when absent.
  Status Delete(const std::string& topic);

  // Writes the table now when anything changed since the last successful write.
  Status Flush();
  // Runs `done` once every change made so far is on disk: at once, on the caller, when it
  // is; otherwise right after the next table write (started without waiting for
  // persist_delay, shared by all waiters), on the writing thread, with that write's status.
  // `done` must not block or call back into this manager. SYNC_FLUSH sends use it so that an
  // acknowledged message's auto-created topic is durable too.
  using DurableCallback = std::function<void(const Status&)>;
  void WhenDurable(DurableCallback done);
  // Whether a change is in memory only (waiting for the deferred write or a retry).
  bool dirty() const;

  // {timestamp of the last change, number of changes since construction, random id per instance}.
  mq::v1::DataVersion data_version() const;

  // Called after every change (outside any lock, after the file write), from the mutating thread.
  void SetChangeListener(std::function<void()> listener);

  const std::string& file_path() const { return file_path_; }

  // Validation used by CreateOrUpdate; error messages start with the offending field.
  static Status Validate(const mq::v1::TopicConfig& config);

 private:
  struct DurableWaiter {
    uint64_t seq;  // done once persisted_seq_ reaches it
    DurableCallback done;
  };
  // Requires persist_mu_ held, mu_ not held. Moves the waiters this write settles (made
  // durable, or failed) to *settled; the caller runs them after releasing persist_mu_.
  Status PersistLocked(std::vector<std::pair<DurableCallback, Status>>* settled);
  Status PersistLocked();  // for callers that cannot have waiters yet (Load)
  static void RunSettled(std::vector<std::pair<DurableCallback, Status>> settled);
  // Takes persist_mu_; writes only when dirty.
  Status PersistIfDirty();
  void BumpVersionLocked();  // requires mu_
  // ResourceExhausted naming the limit when adding `topic` would exceed it. Requires mu_.
  Status CheckCapacityLocked(const std::string& topic) const;
  void NotifyChanged();  // requires no lock
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
  uint64_t change_seq_ = 0;                            // GUARDED_BY(mu_)
  uint64_t persisted_seq_ = 0;                         // GUARDED_BY(mu_)
  std::vector<DurableWaiter> durable_waiters_;         // GUARDED_BY(mu_)
  // Declared last: its thread calls PersistIfDirty() and must stop before the rest dies.
  std::unique_ptr<DeferredPersister> deferred_;
};

}  // namespace mq::broker
