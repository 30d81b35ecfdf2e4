// CheckSender: how the check service reaches a live producer of a group. The gRPC adapter
// (TransactionCheckStreams) implements it with the producers' open TransactionCheckStream
// calls; another protocol (RocketMQ 5 Telemetry) can implement it with its own channels.
#pragma once

#include <string>

#include "mq/v1/broker.pb.h"

namespace mq::broker::txn {

class CheckSender {
 public:
  virtual ~CheckSender() = default;
  // Hands the check to one live producer of `group` without blocking; false when the group
  // has none (or its producers cannot take more checks now).
  virtual bool SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) = 0;
};

}  // namespace mq::broker::txn
