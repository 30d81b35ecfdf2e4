#include "send_reply.h"

#include <algorithm>

#include "common/proto_wire.h"

namespace mq::client {
namespace {

// A string field in ASCII: protobuf refuses a string that is not UTF-8, so anything beyond
// ASCII is left to it.
bool ReadText(wire::Reader* in, uint32_t type, std::string_view* v) {
  if (type != wire::kLengthDelimited || !in->Bytes(v)) return false;
  for (char c : *v) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool ReadEntry(std::string_view bytes, SendReplyEntry* e) {
  wire::Reader in(bytes);
  while (!in.done()) {
    uint32_t field = 0, type = 0;
    if (!in.Tag(&field, &type)) return false;
    switch (field) {
      case wire::kMsgId:
        if (!ReadText(&in, type, &e->msg_id)) return false;
        break;
      case wire::kOffsetMsgId:
        if (!ReadText(&in, type, &e->offset_msg_id)) return false;
        break;
      case wire::kRecallHandle:
        if (!ReadText(&in, type, &e->recall_handle)) return false;
        break;
      case wire::kEntryQueueOffset:
        if (!in.IntField(type, &e->queue_offset)) return false;
        break;
      case wire::kCommitLogOffset:
        if (!in.IntField(type, &e->commit_log_offset)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

SendReply SendReplyOf(const mq::v1::SendMessageResponse& resp) {
  SendReply r;
  r.status = resp.status();
  r.broker_name = resp.broker_name();
  r.queue_id = resp.queue_id();
  r.queue_offset = resp.queue_offset();
  r.entries.reserve(static_cast<size_t>(resp.entries_size()));
  for (const auto& e : resp.entries()) {
    r.entries.push_back(
        {e.msg_id(), e.offset_msg_id(), e.recall_handle(), e.queue_offset(), e.commit_log_offset()});
  }
  return r;
}

SendResult HeaderResult(const SendReply& reply, const MessageQueue& queue) {
  SendResult r;
  switch (reply.status) {
    case mq::v1::FLUSH_DISK_TIMEOUT:
      r.status = SendStatus::kFlushDiskTimeout;
      break;
    case mq::v1::FLUSH_SLAVE_TIMEOUT:
      r.status = SendStatus::kFlushSlaveTimeout;
      break;
    case mq::v1::SLAVE_NOT_AVAILABLE:
      r.status = SendStatus::kSlaveNotAvailable;
      break;
    default:
      r.status = SendStatus::kSendOk;
  }
  r.queue = queue;
  if (!reply.broker_name.empty()) r.queue.broker_name = reply.broker_name;
  r.queue.queue_id = reply.queue_id;
  r.queue_offset = reply.queue_offset;
  return r;
}

}  // namespace

bool ReadSendReply(std::string_view bytes, SendReply* out) {
  *out = SendReply{};
  wire::Reader in(bytes);
  while (!in.done()) {
    uint32_t field = 0, type = 0;
    std::string_view entry;
    if (!in.Tag(&field, &type)) return false;
    switch (field) {
      case wire::kStatus:
        if (!in.IntField(type, &out->status)) return false;
        break;
      case wire::kBrokerName:
        if (!ReadText(&in, type, &out->broker_name)) return false;
        break;
      case wire::kResponseQueueId:
        if (!in.IntField(type, &out->queue_id)) return false;
        break;
      case wire::kQueueOffset:
        if (!in.IntField(type, &out->queue_offset)) return false;
        break;
      case wire::kEntries:
        if (type != wire::kLengthDelimited || !in.Bytes(&entry) ||
            !ReadEntry(entry, &out->entries.emplace_back()))
          return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

Status DecodeSendReply(const grpc::ByteBuffer& reply, SendReplyBuffer* buffer, SendReply* out) {
  if (!reply.Dump(&buffer->slices).ok()) return Status::Internal("send reply: unreadable bytes");
  std::string_view bytes;
  if (buffer->slices.size() == 1) {
    bytes =
        std::string_view(reinterpret_cast<const char*>(buffer->slices[0].begin()), buffer->slices[0].size());
  } else {
    for (const auto& s : buffer->slices)
      buffer->joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
    bytes = buffer->joined;
  }
  return DecodeSendReply(bytes, buffer, out);
}

Status DecodeSendReply(std::string_view bytes, SendReplyBuffer* buffer, SendReply* out) {
  if (ReadSendReply(bytes, out)) return Status::OK();
  if (!buffer->parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Internal("send reply: not a SendMessageResponse (" + std::to_string(bytes.size()) +
                            " bytes)");
  }
  *out = SendReplyOf(buffer->parsed);
  return Status::OK();
}

SendResult SendResultOf(const SendReply& reply, const MessageQueue& queue) {
  SendResult r = HeaderResult(reply, queue);
  r.msg_ids.reserve(reply.entries.size());
  for (const auto& e : reply.entries) r.msg_ids.emplace_back(e.msg_id);
  if (!reply.entries.empty()) {
    r.msg_id = reply.entries[0].msg_id;
    r.offset_msg_id = reply.entries[0].offset_msg_id;
    r.recall_handle = reply.entries[0].recall_handle;
  }
  return r;
}

BatchOutcome::BatchOutcome(const SendReply& reply, const MessageQueue& queue, size_t messages, int attempts)
    : header_(HeaderResult(reply, queue)), messages_(messages) {
  header_.attempts = attempts;
  const size_t n = std::min(messages, reply.entries.size());
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const SendReplyEntry& e = reply.entries[i];
    bytes += e.msg_id.size() + e.offset_msg_id.size() + e.recall_handle.size();
  }
  ids_.reserve(bytes);
  entries_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const SendReplyEntry& e = reply.entries[i];
    entries_.push_back({ids_.size(), static_cast<uint32_t>(e.msg_id.size()),
                        static_cast<uint32_t>(e.offset_msg_id.size()),
                        static_cast<uint32_t>(e.recall_handle.size()), e.queue_offset});
    ids_.append(e.msg_id).append(e.offset_msg_id).append(e.recall_handle);
  }
}

Result<SendResult> BatchOutcome::At(size_t i) const {
  if (!failed_.ok()) return failed_;
  SendResult r = header_;
  if (i >= entries_.size()) return r;  // the broker answered fewer entries than messages
  const Entry& e = entries_[i];
  const std::string_view ids(ids_);
  r.msg_id = ids.substr(e.at, e.msg_id_size);
  r.offset_msg_id = ids.substr(e.at + e.msg_id_size, e.offset_msg_id_size);
  r.recall_handle = ids.substr(e.at + e.msg_id_size + e.offset_msg_id_size, e.recall_handle_size);
  r.queue_offset = e.queue_offset;
  r.msg_ids.emplace_back(r.msg_id);
  return r;
}

}  // namespace mq::client
