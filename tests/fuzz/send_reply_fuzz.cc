// Fuzz target: the producer's hand reading of a broker's SendMessageResponse (client/
// send_reply.h), against protobuf's. The bytes are a reply as a broker sends it.
// Properties: whatever ReadSendReply takes, protobuf parses to the same fields;
// DecodeSendReply, on the bytes whole and cut into two slices, either answers those same
// fields or refuses with a message, exactly when protobuf refuses them; the results built from
// a reply carry its ids.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/send_reply.h"
#include "fuzz_support.h"

namespace {

void CheckSameFields(const mq::client::SendReply& r, const mq::v1::SendMessageResponse& pb) {
  MQ_FUZZ_CHECK(r.status == pb.status() && r.broker_name == pb.broker_name() && r.queue_id == pb.queue_id() &&
                    r.queue_offset == pb.queue_offset(),
                "reply fields differ from protobuf's");
  MQ_FUZZ_CHECK(r.entries.size() == static_cast<size_t>(pb.entries_size()), "entry count differs");
  for (size_t i = 0; i < r.entries.size(); ++i) {
    const auto& e = r.entries[i];
    const auto& p = pb.entries(static_cast<int>(i));
    MQ_FUZZ_CHECK(e.msg_id == p.msg_id() && e.offset_msg_id == p.offset_msg_id() &&
                      e.recall_handle == p.recall_handle() && e.queue_offset == p.queue_offset() &&
                      e.commit_log_offset == p.commit_log_offset(),
                  "entry " + std::to_string(i) + " differs from protobuf's");
  }
}

grpc::ByteBuffer BufferOf(std::string_view bytes, size_t cut) {
  std::vector<grpc::Slice> slices;
  slices.emplace_back(bytes.data(), cut);
  slices.emplace_back(bytes.data() + cut, bytes.size() - cut);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mq::v1::SendMessageResponse pb;
  const bool protobuf_reads = pb.ParseFromArray(data, static_cast<int>(size));
  mq::client::SendReply hand;
  if (mq::client::ReadSendReply(bytes, &hand)) {
    MQ_FUZZ_CHECK(protobuf_reads, "the hand reader took bytes protobuf refuses");
    CheckSameFields(hand, pb);
  }
  for (size_t cut : {size_t{0}, size / 2}) {
    mq::client::SendReplyBuffer buffer;
    mq::client::SendReply reply;
    const mq::Status s = mq::client::DecodeSendReply(BufferOf(bytes, cut), &buffer, &reply);
    MQ_FUZZ_CHECK(s.ok() == protobuf_reads, "DecodeSendReply and protobuf disagree on the bytes");
    if (!s.ok()) {
      MQ_FUZZ_CHECK(!s.message().empty(), "a refusal without a message");
      continue;
    }
    CheckSameFields(reply, pb);
    const mq::client::MessageQueue queue{"T", "b", 0};
    const mq::client::BatchOutcome each(reply, queue, reply.entries.size(), 1);
    for (size_t i = 0; i < each.size(); ++i) {
      const auto r = each.At(i);
      MQ_FUZZ_CHECK(r.ok() && r->msg_id == reply.entries[i].msg_id && r->msg_ids.size() == 1 &&
                        r->offset_msg_id == reply.entries[i].offset_msg_id &&
                        r->recall_handle == reply.entries[i].recall_handle,
                    "a per-message result lost its ids");
    }
    MQ_FUZZ_CHECK(mq::client::SendResultOf(reply, queue).msg_ids.size() == reply.entries.size(),
                  "the request's result lost ids");
  }
  return 0;
}
