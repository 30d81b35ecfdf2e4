#include "pull_reply.h"

#include "common/proto_wire.h"

namespace mq::client {
namespace {

// mq.v1.PullMessageResponse's field numbers (broker.proto).
enum PullResponseField : uint32_t {
  kStatus = 1,
  kNextBeginOffset = 2,
  kMinOffset = 3,
  kMaxOffset = 4,
  kSuggestWhichBrokerId = 5,
  kRecords = 7,
};

bool ReadInt64(wire::Reader* in, uint32_t type, int64_t* out) {
  uint64_t v = 0;
  if (type != wire::kVarint || !in->Varint(&v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool ReadPullReply(std::string_view bytes, PullReplyView* out) {
  *out = PullReplyView{};
  wire::Reader in(bytes);
  while (!in.done()) {
    uint32_t field = 0, type = 0;
    int64_t v = 0;
    if (!in.Tag(&field, &type)) return false;
    switch (field) {
      case kStatus:
        // An enum value this build does not know is left to protobuf (it keeps it as is).
        if (!ReadInt64(&in, type, &v) || !mq::v1::PullStatus_IsValid(static_cast<int>(v))) return false;
        out->status = static_cast<mq::v1::PullStatus>(v);
        break;
      case kNextBeginOffset:
        if (!ReadInt64(&in, type, &out->next_begin_offset)) return false;
        break;
      case kMinOffset:
        if (!ReadInt64(&in, type, &out->min_offset)) return false;
        break;
      case kMaxOffset:
        if (!ReadInt64(&in, type, &out->max_offset)) return false;
        break;
      case kSuggestWhichBrokerId:
        if (!ReadInt64(&in, type, &out->suggest_which_broker_id)) return false;
        break;
      case kRecords:
        if (type != wire::kLengthDelimited || !in.Bytes(&out->records)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

PullReplyView PullReplyViewOf(mq::v1::PullMessageResponse* reply) {
  PullReplyView v;
  v.status = reply->status();
  v.next_begin_offset = reply->next_begin_offset();
  v.min_offset = reply->min_offset();
  v.max_offset = reply->max_offset();
  v.suggest_which_broker_id = reply->suggest_which_broker_id();
  v.records = reply->records();
  if (reply->messages_size() > 0) v.messages_from = reply;
  return v;
}

}  // namespace mq::client
