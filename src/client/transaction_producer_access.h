// What TransactionProducer borrows from a Producer it owns (defined in producer.cc, which
// holds ProducerImpl): the half-message send, reusing the producer's route, retry and fault
// machinery, and the client instance for the check streams. Library-internal.
#pragma once

#include "client_instance.h"
#include "common/result.h"
#include "mq/client/producer.h"

namespace mq::client {

struct ProducerAccess {
  // A send with transaction_prepared set (one message, never auto-batched).
  static Result<SendResult> SendHalf(Producer& producer, const Message& msg);
  static ClientInstance& Client(Producer& producer);
};

}  // namespace mq::client
