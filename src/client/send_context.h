// The state of one send (a message or a batch) through its attempts, and which failures an
// attempt on another broker may cure. Owned by the producer's send path (producer.cc); one
// attempt at a time touches it (each attempt starts after the previous one's reply), so it
// needs no lock.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "mq/client/producer.h"
#include "mq/v1/broker.pb.h"
#include "send_reply.h"

namespace mq::client {

inline bool Retryable(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotSupported:
    case StatusCode::kAlreadyExists:
      return false;
    default:
      return true;
  }
}

struct SendContext {
  // The request's header fields (group, topic, ...); the messages are in `messages`, already in
  // wire form (SendMessageRequest field 4 elements, send_wire.h) and shared by every attempt,
  // which sends a header with its queue_id + these bytes as the request.
  mq::v1::SendMessageRequest req;
  grpc::Slice messages;
  int message_count = 0;
  grpc::ByteBuffer request;  // the current attempt's
  Message first;             // for the selector (set with it)
  const MessageQueueSelector* selector = nullptr;
  MessageQueueSelector selector_copy;
  std::string arg;
  int max_attempts = 1;
  int attempts = 0;
  int64_t deadline_ms = 0;
  std::string last_broker;
  Status last_error;
  std::function<void(Result<SendResult>)> done;
  // Set for auto-batched sends: gets the broker's answer (one entry per message) instead of
  // `done` getting a SendResult.
  std::function<void(const SendReply&, const MessageQueue&, int attempts)> on_response;
  // A blocking send from a callback on a fast port's reply reader goes over gRPC: that thread
  // cannot read its own reply (send_callbacks.h).
  bool over_grpc = false;
};

}  // namespace mq::client
