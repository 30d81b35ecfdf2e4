// What a ProducerOptions must hold before a producer starts: each bad value is refused with
// kInvalidArgument naming the option. Pure; thread-safe.
#pragma once

#include "common/status.h"
#include "mq/client/producer.h"

namespace mq::client {

Status ValidateProducerOptions(const ProducerOptions& options);

}  // namespace mq::client
