#include "broker/ha/handshake.h"

#include <fmt/format.h>

#include "broker/store/message_store.h"
#include "common/utf8.h"

namespace mq::ha {
namespace {

HandshakeVerdict Refuse(mq::v1::HandshakeStatus status, std::string message) {
  return HandshakeVerdict{status, std::move(message)};
}

std::string Who(const mq::v1::SlaveReport& r) {
  return fmt::format("slave {} (brokerId {})", ClipText(r.slave_addr()), r.broker_id());
}

constexpr const char* kWipe = "wipe the slave's store (after saving anything only it holds) to resync";

}  // namespace

HandshakeVerdict CheckHandshake(const store::MessageStore& store, const std::string& broker_name,
                                const mq::v1::SlaveReport& first) {
  if (first.broker_name() != broker_name) {
    return Refuse(mq::v1::HANDSHAKE_WRONG_BROKER_SET,
                  fmt::format("{} belongs to broker set '{}', this master serves '{}'", Who(first),
                              ClipText(first.broker_name()), broker_name));
  }
  const int64_t slave_end = first.max_phy_offset();
  if (slave_end < 0) {
    return Refuse(mq::v1::HANDSHAKE_BAD_REQUEST,
                  fmt::format("max_phy_offset: {} of {} is negative", slave_end, Who(first)));
  }
  const int32_t master_segment = store.options().mapped_file_size_commit_log;
  const int32_t slave_segment = first.handshake().mapped_file_size_commit_log();
  if (slave_segment <= 0) {
    return Refuse(mq::v1::HANDSHAKE_BAD_REQUEST,
                  fmt::format("handshake.mapped_file_size_commit_log: missing in the first report of {} "
                              "(a slave without the replication handshake?)",
                              Who(first)));
  }
  if (slave_segment != master_segment) {
    return Refuse(
        mq::v1::HANDSHAKE_SEGMENT_SIZE_MISMATCH,
        fmt::format("{} has mappedFileSizeCommitLog={} but the master has mappedFileSizeCommitLog={}; "
                    "the commit log is copied byte for byte, so both must be equal",
                    Who(first), slave_segment, master_segment));
  }
  const int64_t master_end = store.MaxPhyOffset();
  if (slave_end > master_end) {
    return Refuse(
        mq::v1::HANDSHAKE_SLAVE_AHEAD,
        fmt::format("{} reports its commit log ends at offset {}, beyond the master's max offset {}: "
                    "it holds {} bytes the master does not (the master lost an unflushed tail, or "
                    "the slave copied another master); {}",
                    Who(first), slave_end, master_end, slave_end - master_end, kWipe));
  }
  const int64_t master_min = store.MinPhyOffset();
  if (slave_end < master_min) {
    return Refuse(mq::v1::HANDSHAKE_OFFSET_NOT_STORED,
                  fmt::format("{} asks for offset {} but the master's commit log starts at {}; {}",
                              Who(first), slave_end, master_min, kWipe));
  }
  if (slave_end == 0) return HandshakeVerdict{mq::v1::HANDSHAKE_ACCEPTED, {}};

  if (!first.handshake().has_last_record()) {
    return Refuse(mq::v1::HANDSHAKE_BAD_REQUEST,
                  fmt::format("handshake.last_record: missing, but {} reports a commit log ending at {}",
                              Who(first), slave_end));
  }
  const auto& claimed = first.handshake().last_record();
  if (claimed.offset() < 0 || claimed.size() <= 0 || claimed.size() > slave_end - claimed.offset()) {
    return Refuse(mq::v1::HANDSHAKE_BAD_REQUEST,
                  fmt::format("handshake.last_record: [{}, +{}) of {} does not end at or before its end {}",
                              claimed.offset(), claimed.size(), Who(first), slave_end));
  }
  if (claimed.offset() < master_min) {
    return Refuse(
        mq::v1::HANDSHAKE_OFFSET_NOT_STORED,
        fmt::format("the last record of {} is at offset {}, which the master no longer stores (its commit "
                    "log starts at {}), so a common history cannot be checked; {}",
                    Who(first), claimed.offset(), master_min, kWipe));
  }
  auto mine = store.ReadRecordAnchor(claimed.offset(), slave_end);
  if (!mine.ok()) {
    const auto status =
        mine.status().IsNotFound() ? mq::v1::HANDSHAKE_OFFSET_NOT_STORED : mq::v1::HANDSHAKE_LOG_DIVERGED;
    return Refuse(status, fmt::format("the commit log of {} ends at offset {} with a {}-byte record at {} "
                                      "(crc32c {}), but on the master: {}; the logs diverged at or before "
                                      "offset {}; {}",
                                      Who(first), slave_end, claimed.size(), claimed.offset(),
                                      claimed.crc32c(), mine.status().message(), claimed.offset(), kWipe));
  }
  if (mine->size != claimed.size() || mine->crc32c != claimed.crc32c()) {
    return Refuse(
        mq::v1::HANDSHAKE_LOG_DIVERGED,
        fmt::format("the commit log of {} ends at offset {} with a {}-byte record at {} (crc32c {}), "
                    "but the master's record there has {} bytes (crc32c {}): the logs diverged at or "
                    "before offset {}; {}",
                    Who(first), slave_end, claimed.size(), claimed.offset(), claimed.crc32c(), mine->size,
                    mine->crc32c, claimed.offset(), kWipe));
  }
  return HandshakeVerdict{mq::v1::HANDSHAKE_ACCEPTED, {}};
}

mq::v1::HandshakeReply MakeHandshakeReply(const store::MessageStore& store, const HandshakeVerdict& verdict) {
  mq::v1::HandshakeReply reply;
  reply.set_status(verdict.status);
  reply.set_message(verdict.message);
  reply.set_mapped_file_size_commit_log(store.options().mapped_file_size_commit_log);
  reply.set_master_min_offset(store.MinPhyOffset());
  reply.set_master_max_offset(store.MaxPhyOffset());
  return reply;
}

mq::v1::ReplicaHandshake MakeHandshake(int32_t segment_size, const store::RecordAnchor* anchor) {
  mq::v1::ReplicaHandshake h;
  h.set_mapped_file_size_commit_log(segment_size);
  if (anchor != nullptr) {
    auto* last = h.mutable_last_record();
    last->set_offset(anchor->offset);
    last->set_size(anchor->size);
    last->set_crc32c(anchor->crc32c);
  }
  return h;
}

std::string HandshakeStatusName(mq::v1::HandshakeStatus status) {
  constexpr std::string_view kPrefix = "HANDSHAKE_";
  std::string name = mq::v1::HandshakeStatus_Name(status);
  if (name.rfind(kPrefix, 0) == 0) name.erase(0, kPrefix.size());
  return name.empty() ? std::to_string(static_cast<int>(status)) : name;
}

}  // namespace mq::ha
