// DelayOffsetTable: per delay level, the next SCHEDULE_TOPIC_XXXX queue offset to deliver
// (RocketMQ ScheduleMessageService.offsetTable), persisted as
// <storePathRootDir>/config/delayOffset.json in RocketMQ's format {"offsetTable":{"1":n,...}}
// (+ .bak, each written atomically like the other metadata files). On a master the delivery
// thread advances it; a slave takes the master's table through the metadata sync so a promoted
// slave resumes about where the master was (it may deliver some messages again, never skip).
// Thread-safe: mu_ guards the table; persist_mu_ serialises file writes (order persist_mu_ -> mu_).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/status.h"
#include "mq/v1/ha.pb.h"

namespace mq::schedule {

class DelayOffsetTable {
 public:
  explicit DelayOffsetTable(std::string config_dir);
  DelayOffsetTable(const DelayOffsetTable&) = delete;
  DelayOffsetTable& operator=(const DelayOffsetTable&) = delete;

  // Missing file = empty table; a corrupt file falls back to .bak, else Corruption.
  Status Load();
  // The table as it is now, numbered by its changes.
  struct Version {
    std::map<int32_t, int64_t> offsets;
    uint64_t seq = 0;
  };
  Version Take() const;
  // Writes `version` (taken earlier: the delivery thread writes only offsets whose deliveries
  // are durable) unless a version as new or newer is written already.
  Status Persist(const Version& version);
  // Writes the table when it changed since the last write.
  Status Persist() { return Persist(Take()); }

  int64_t Get(int32_t level) const;  // 0 when unknown
  void Set(int32_t level, int64_t offset);
  mq::v1::DelayOffsetTable Snapshot() const;
  // Slave: adopts the master's table (levels it does not carry are kept).
  void Adopt(const mq::v1::DelayOffsetTable& table);

  const std::string& file_path() const { return path_; }

 private:
  const std::string path_;
  std::mutex persist_mu_;
  mutable std::mutex mu_;
  std::map<int32_t, int64_t> offsets_;  // GUARDED_BY(mu_)
  uint64_t change_seq_ = 0;             // GUARDED_BY(mu_)
  uint64_t persisted_seq_ = 0;          // GUARDED_BY(mu_)
};

}  // namespace mq::schedule
