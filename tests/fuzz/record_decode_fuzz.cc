// Fuzz target: one commit-log record as found on disk or received from a master
// (ProbeRecord, DecodeRecord with and without CRC checks, ToStoredMessage, offset message ids).
// Properties checked: no crash or over-read (ASan); a refusal carries a message; an accepted
// record's fields lie inside the input and agree with its header.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "broker/store/message_format.h"
#include "fuzz_support.h"

namespace {

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mq::store;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto probe = ProbeRecord(in);
  if (!probe.ok()) {
    mq::fuzz::CheckClearError(probe.status(), "ProbeRecord");
  } else if (probe->kind != RecordKind::kEndOfData) {
    MQ_FUZZ_CHECK(probe->size > 0 && static_cast<size_t>(probe->size) <= in.size(),
                  fmt::format("probe size {} of {} bytes", probe->size, in.size()));
  }

  for (bool verify : {false, true}) {
    auto rec = DecodeRecord(in, verify);
    if (!rec.ok()) {
      mq::fuzz::CheckClearError(rec.status(), "DecodeRecord");
      continue;
    }
    MQ_FUZZ_CHECK(static_cast<size_t>(rec->total_size) == in.size(), "TOTALSIZE accepted != input size");
    MQ_FUZZ_CHECK(Inside(rec->body, in) && Inside(rec->topic, in) && Inside(rec->properties, in),
                  "a decoded view points outside the record");
    MQ_FUZZ_CHECK(!rec->topic.empty() && rec->topic.size() <= static_cast<size_t>(kMaxTopicLength),
                  fmt::format("topic of {} bytes accepted", rec->topic.size()));
    // A record that decodes also probes as a message of the same size (recovery relies on it).
    auto again = ProbeRecord(in);
    MQ_FUZZ_CHECK(again.ok() && again->kind == RecordKind::kMessage && again->size == rec->total_size,
                  "DecodeRecord accepts a record ProbeRecord refuses");
    auto pinned = DecodeRecord(in, verify, rec->physical_offset >= 0 ? rec->physical_offset : 0);
    MQ_FUZZ_CHECK(pinned.ok() == (rec->physical_offset >= 0), "PHYSICALOFFSET check disagrees");
    StoredMessage m = ToStoredMessage(*rec, in);
    MQ_FUZZ_CHECK(m.raw == in && m.body == rec->body && m.topic == rec->topic, "owning copy differs");
    MQ_FUZZ_CHECK(m.properties.count(std::string(kPropertyCrc)) == 0, "CRC trailer leaked into properties");
  }

  auto id = DecodeOffsetMessageId(in);
  if (!id.ok()) mq::fuzz::CheckClearError(id.status(), "DecodeOffsetMessageId");
  return 0;
}
