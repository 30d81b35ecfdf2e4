// Fuzz target: the commit-log recovery scan over segment files as found after a crash.
// Input: byte 0 = flags (bit 0: clean shutdown, bit 1: a checkpoint offset follows in bytes
// 1-2, big-endian), then the log bytes, cut into kSegment-byte segment files (at most
// kMaxSegments; the last may be short, as a torn roll leaves it).
// Properties: Load/Recover never crash and refuse with a message; when nothing is trusted
// (no clean shutdown, no checkpoint) every record below the recovered end reads back with a
// valid CRC, the walk lands exactly on the end, the tail after it is zero, and the recovered
// log accepts and returns a new message.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "broker/store/commit_log.h"
#include "common/clock.h"
#include "common/file_util.h"
#include "fuzz_support.h"

namespace {

constexpr int32_t kSegment = 4096;
constexpr size_t kMaxSegments = 3;

void CheckUsableAfterRecovery(mq::store::CommitLog& log) {
  mq::store::MessageInput in;
  in.topic = "AfterRecovery";
  in.body = "fresh";
  std::vector<mq::store::PendingRecord> batch(1);
  mq::Status s = mq::store::EncodeMessage(in, {0x7F000001, 10911}, &batch[0].bytes);
  MQ_FUZZ_CHECK(s.ok(), s.ToString());
  batch[0].topic = in.topic;
  auto appended = log.Append(&batch);
  MQ_FUZZ_CHECK(appended.status.ok(), "append after recovery: " + appended.status.ToString());
  auto back = log.LookMessage(appended.wrote_offset, log.committed_offset());
  MQ_FUZZ_CHECK(back.ok() && back->body == "fresh", "the message appended after recovery does not read back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mq::fuzz::QuietLogging();
  static mq::fuzz::ScratchDir dir;
  dir.Clear();
  mq::fuzz::ByteReader reader(data, size);
  const uint8_t flags = reader.Byte();
  const bool clean = (flags & 1) != 0;
  int64_t checkpoint = -1;
  if (flags & 2) checkpoint = (int64_t{reader.Byte()} << 8) | reader.Byte();
  std::string_view bytes = reader.Rest();
  bytes = bytes.substr(0, std::min(bytes.size(), kMaxSegments * kSegment));

  mq::store::StoreOptions options;
  options.store_path_root_dir = dir.path();
  options.mapped_file_size_commit_log = kSegment;
  options.preallocate_next_segment = false;
  for (size_t from = 0; from < bytes.size(); from += kSegment) {
    mq::fuzz::WriteFileOrDie(dir.path() + "/commitlog/" + mq::OffsetToFileName(static_cast<int64_t>(from)),
                             bytes.substr(from, kSegment));
  }

  mq::store::CommitLog log(options, mq::SystemClock::Default());
  mq::Status loaded = log.Load();
  if (!loaded.ok()) {
    mq::fuzz::CheckClearError(loaded, "CommitLog::Load");
    return 0;
  }
  auto end = log.Recover(clean, checkpoint);
  if (!end.ok()) {
    mq::fuzz::CheckClearError(end.status(), "CommitLog::Recover");
    return 0;
  }
  // Segment files are sized up to kSegment on open, so a blank may legitimately end a short one.
  const auto stored_end = static_cast<int64_t>((bytes.size() + kSegment - 1) / kSegment * kSegment);
  MQ_FUZZ_CHECK(*end >= 0 && *end <= stored_end && *end == log.committed_offset(),
                fmt::format("recovered end {} outside [0, {}]", *end, stored_end));

  if (!clean && checkpoint < 0) {
    int64_t pos = log.min_offset();
    int records = 0;
    while (pos < *end) {
      auto ref = log.ReadRecordAt(pos, *end);
      MQ_FUZZ_CHECK(ref.ok(), fmt::format("record at {} below the recovered end {} is unreadable: {}", pos,
                                          *end, ref.status().ToString()));
      MQ_FUZZ_CHECK(ref->next_offset > pos, "the walk does not advance");
      if (ref->kind == mq::store::RecordKind::kMessage) {
        auto msg = log.LookMessage(pos, *end);
        MQ_FUZZ_CHECK(msg.ok(),
                      fmt::format("recovered record at {} fails its CRC: {}", pos, msg.status().ToString()));
        ++records;
      }
      pos = ref->next_offset;
    }
    MQ_FUZZ_CHECK(pos == *end, fmt::format("records end at {}, recovery says {}", pos, *end));
    if (*end % kSegment != 0) {
      auto tail = log.ReadRecordAt(*end, *end + kSegment);
      MQ_FUZZ_CHECK(tail.ok() && tail->kind == mq::store::RecordKind::kEndOfData,
                    fmt::format("stale bytes remain after the recovered end {}", *end));
    }
  }
  CheckUsableAfterRecovery(log);
  return 0;
}
