#include "pull_reply.h"

#include "common/proto_wire.h"

namespace mq::client {
bool ReadPullReply(std::string_view bytes, PullReplyView* out) {
  *out = PullReplyView{};
  wire::Reader in(bytes);
  while (!in.done()) {
    uint32_t field = 0, type = 0;
    int64_t v = 0;
    if (!in.Tag(&field, &type)) return false;
    switch (field) {
      case wire::kPullStatus:
        // An enum value this build does not know is left to protobuf (it keeps it as is).
        if (!in.IntField(type, &v) || !mq::v1::PullStatus_IsValid(static_cast<int>(v))) return false;
        out->status = static_cast<mq::v1::PullStatus>(v);
        break;
      case wire::kNextBeginOffset:
        if (!in.IntField(type, &out->next_begin_offset)) return false;
        break;
      case wire::kMinOffset:
        if (!in.IntField(type, &out->min_offset)) return false;
        break;
      case wire::kMaxOffset:
        if (!in.IntField(type, &out->max_offset)) return false;
        break;
      case wire::kSuggestWhichBrokerId:
        if (!in.IntField(type, &out->suggest_which_broker_id)) return false;
        break;
      case wire::kRecords:
        if (type != wire::kLengthDelimited || !in.Bytes(&out->records)) return false;
        break;
      case wire::kPulledMessages:  // a MessageExt list: protobuf's to parse
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

Result<PullReplyView> ReadPullReplyOrParse(std::string_view bytes,
                                           std::unique_ptr<mq::v1::PullMessageResponse>* parsed) {
  if (PullReplyView view; ReadPullReply(bytes, &view)) return view;
  *parsed = std::make_unique<mq::v1::PullMessageResponse>();
  if (!(*parsed)->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Internal("pull reply: not a PullMessageResponse");
  }
  return PullReplyViewOf(parsed->get());
}

}  // namespace mq::client
