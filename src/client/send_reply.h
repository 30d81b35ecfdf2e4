// SendReply: a broker's SendMessageResponse read straight from its wire bytes (common/
// proto_wire.h), without protobuf objects, for the producer's reply path: a reply carries one
// entry per message of its request, and parsing them into protobuf objects took a few heap
// allocations per message on the thread that wakes the senders (docs/benchmarks.md). Bytes
// holding anything the hand reader does not know (a field of a newer broker, another wire
// type) are parsed by protobuf instead, so what is read is always what protobuf reads.
// Value types and pure functions; any thread.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/client/message.h"
#include "mq/client/send_result.h"
#include "mq/v1/broker.pb.h"

namespace mq::client {

struct SendReplyEntry {
  std::string_view msg_id;
  std::string_view offset_msg_id;
  std::string_view recall_handle;
  int64_t queue_offset = 0;
  int64_t commit_log_offset = 0;
};

// The fields of a SendMessageResponse; the views point into the bytes it was read from (or
// into the protobuf message it was made of), which must outlive it.
struct SendReply {
  int status = 0;  // mq::v1::SendStatus
  std::string_view broker_name;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  std::vector<SendReplyEntry> entries;
};

// Reads `bytes` as a SendMessageResponse by hand; false (with `out` unspecified) when they are
// malformed or hold a field or wire type the reader does not know.
bool ReadSendReply(std::string_view bytes, SendReply* out);

// What a reply's views point into: its bytes, joined when they came in several slices, or the
// protobuf message they were parsed into.
struct SendReplyBuffer {
  std::vector<grpc::Slice> slices;
  std::string joined;
  mq::v1::SendMessageResponse parsed;
};

// Decodes a reply's ByteBuffer: by hand, else by protobuf; an error if protobuf refuses it too.
Status DecodeSendReply(const grpc::ByteBuffer& reply, SendReplyBuffer* buffer, SendReply* out);
// The same for a reply's bytes in one piece (the fast send port's), which `out` may point into.
Status DecodeSendReply(std::string_view bytes, SendReplyBuffer* buffer, SendReply* out);

// The result of a send of one request: the first entry's ids, every entry's unique key in
// msg_ids (RocketMQ's SendResult of a batch).
SendResult SendResultOf(const SendReply& reply, const MessageQueue& queue);
// The outcome of an auto-batched request for each of its messages (entry i for message i: its
// own ids and queue offset, the shared status and queue; or one error for all), kept in one
// block. Made on the reply's thread, read into SendResults by At() on the thread that runs the
// callbacks, so each result's strings are allocated and freed on one thread (glibc frees
// another thread's block under that thread's arena lock: see docs/client.md). Immutable.
class BatchOutcome {
 public:
  BatchOutcome(const SendReply& reply, const MessageQueue& queue, size_t messages, int attempts);
  BatchOutcome(Status failed, size_t messages) : failed_(std::move(failed)), messages_(messages) {}
  size_t size() const { return messages_; }
  Result<SendResult> At(size_t i) const;

 private:
  struct Entry {
    size_t at;  // in ids_: msg_id, offset_msg_id, recall_handle back to back
    uint32_t msg_id_size, offset_msg_id_size, recall_handle_size;
    int64_t queue_offset;
  };
  Status failed_;
  SendResult header_;
  std::string ids_;
  std::vector<Entry> entries_;
  size_t messages_ = 0;
};

}  // namespace mq::client
