// Helpers to fill apache.rocketmq.v2.Status, shared by every v2 RPC handler. Stateless.
#pragma once

#include <string>
#include <utility>

#include "apache/rocketmq/v2/definition.pb.h"
#include "common/utf8.h"

namespace mq::broker::v2 {

// A message may quote bytes a client sent; those that are not UTF-8 are escaped, or the SDK could
// not parse the response at all (Status.message is a proto3 string).
inline void SetStatus(apache::rocketmq::v2::Status* status, apache::rocketmq::v2::Code code,
                      std::string message) {
  status->set_code(code);
  status->set_message(IsValidUtf8(message) ? std::move(message) : EscapeInvalidUtf8(message));
}

inline apache::rocketmq::v2::Status MakeStatus(apache::rocketmq::v2::Code code, std::string message) {
  apache::rocketmq::v2::Status status;
  SetStatus(&status, code, std::move(message));
  return status;
}

// The SDKs only look at the code; "OK" keeps logs and grpcurl output readable.
inline void SetOk(apache::rocketmq::v2::Status* status) {
  SetStatus(status, apache::rocketmq::v2::Code::OK, "OK");
}

inline bool IsOk(const apache::rocketmq::v2::Status& status) {
  return status.code() == apache::rocketmq::v2::Code::OK;
}

}  // namespace mq::broker::v2
