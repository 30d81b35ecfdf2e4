// Fuzz target: the consumer's reading of a broker's PullMessageResponse (client/pull_reply.h)
// and of the messages it carries (client/convert.h), the bytes as a broker sends them on the
// fast send port. The consumer reads them by hand and leaves to protobuf what the hand reader
// refuses (a MessageExt list, an unknown field): ReadPullReplyOrParse, as the push consumer does.
// Properties: whatever ReadPullReply takes, protobuf parses to the same fields; the messages
// either decode or are refused with a message; decoded into slots that hold earlier messages
// (the consumer's reuse of consumed ones) they equal a fresh decode, field for field.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/convert.h"
#include "client/pull_reply.h"
#include "fuzz_support.h"

namespace {

using mq::client::ReceivedMessage;

constexpr size_t kSlots = 16;

// An earlier message with every field set, its strings longer than the small-string buffer and
// its property maps holding keys that sort before and after the usual ones.
ReceivedMessage EarlierMessage(size_t i) {
  ReceivedMessage r;
  r.message.topic = "an-earlier-topic-with-a-long-name-" + std::to_string(i);
  r.message.tags = "EarlierTagThatIsLong";
  r.message.keys = {"earlier-key-one", "earlier-key-two", "earlier-key-three"};
  r.message.body = std::string(300 + i, 'e');
  r.message.properties = {{"AAA-earlier", "v"}, {"color", "an-earlier-colour-value"}, {"zzz-earlier", "w"}};
  r.message.delay_level = 3;
  r.message.deliver_time_ms = 1700000000000;
  r.msg_id = "7F0000010000EARLIER000000000000" + std::to_string(i);
  r.offset_msg_id = "EARLIER-OFFSET-MSG-ID-0000000000";
  r.queue = {"an-earlier-queue-topic-name", "an-earlier-broker-name", 7};
  r.queue_offset = 99;
  r.born_timestamp_ms = 1;
  r.store_timestamp_ms = 2;
  r.reconsume_times = 5;
  r.system_properties = {
      {"AAA", "x"}, {"KEYS", "earlier-key-one"}, {"TAGS", "EarlierTagThatIsLong"}, {"zzz", "y"}};
  return r;
}

void CheckSame(const ReceivedMessage& a, const ReceivedMessage& b, size_t i) {
  const auto& x = a.message;
  const auto& y = b.message;
  MQ_FUZZ_CHECK(x.topic == y.topic && x.tags == y.tags && x.keys == y.keys && x.body == y.body &&
                    x.properties == y.properties && x.delay_level == y.delay_level &&
                    x.deliver_time_ms == y.deliver_time_ms,
                "message " + std::to_string(i) + ": a reused slot's message differs from a fresh one");
  MQ_FUZZ_CHECK(a.msg_id == b.msg_id && a.offset_msg_id == b.offset_msg_id &&
                    a.queue.topic == b.queue.topic && a.queue.broker_name == b.queue.broker_name &&
                    a.queue.queue_id == b.queue.queue_id && a.queue_offset == b.queue_offset &&
                    a.born_timestamp_ms == b.born_timestamp_ms &&
                    a.store_timestamp_ms == b.store_timestamp_ms && a.reconsume_times == b.reconsume_times &&
                    a.system_properties == b.system_properties,
                "message " + std::to_string(i) + ": a reused slot's fields differ from a fresh one's");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mq::v1::PullMessageResponse pb;
  const bool protobuf_reads = pb.ParseFromArray(data, static_cast<int>(size));
  mq::client::PullReplyView hand;
  if (mq::client::ReadPullReply(bytes, &hand)) {
    MQ_FUZZ_CHECK(protobuf_reads, "the hand reader took bytes protobuf refuses");
    MQ_FUZZ_CHECK(hand.status == pb.status() && hand.next_begin_offset == pb.next_begin_offset() &&
                      hand.min_offset == pb.min_offset() && hand.max_offset == pb.max_offset() &&
                      hand.suggest_which_broker_id == pb.suggest_which_broker_id() &&
                      hand.records == pb.records() && pb.messages_size() == 0 &&
                      hand.messages_from == nullptr,
                  "reply fields differ from protobuf's");
  }
  if (!protobuf_reads) return 0;

  // Taking messages out of a MessageExt list moves them: each decode reads its own parse.
  std::unique_ptr<mq::v1::PullMessageResponse> fresh_pb;
  std::unique_ptr<mq::v1::PullMessageResponse> reused_pb;
  const auto fresh_view = mq::client::ReadPullReplyOrParse(bytes, &fresh_pb);
  const auto reused_view = mq::client::ReadPullReplyOrParse(bytes, &reused_pb);
  MQ_FUZZ_CHECK(fresh_view.ok() && reused_view.ok(), "bytes protobuf reads have no view");
  const auto fresh = mq::client::TakePulledMessages(*fresh_view, "broker-a");

  std::vector<ReceivedMessage> slots;
  for (size_t i = 0; i < kSlots; ++i) slots.push_back(EarlierMessage(i));
  size_t handed = 0;
  const mq::Status reused = mq::client::DecodePulledMessages(
      *reused_view, "broker-a", [&](int64_t) { return handed < kSlots ? &slots[handed++] : nullptr; });
  MQ_FUZZ_CHECK(reused.ok() == fresh.ok(),
                "a decode into reused slots and a fresh one disagree on the bytes");
  if (!fresh.ok()) {
    mq::fuzz::CheckClearError(fresh.status(), "TakePulledMessages");
    return 0;
  }
  MQ_FUZZ_CHECK(handed == std::min(kSlots, fresh->size()), "a decode into slots asked for another count");
  for (size_t i = 0; i < handed; ++i) CheckSame(slots[i], (*fresh)[i], i);
  return 0;
}
